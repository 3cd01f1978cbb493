"""Small real encoders and objectives for tests, and `registry()`, a registry holding them.

Three sets of parts (`SETS`), each the encoders of audio, sheet and lyrics and the objectives
over them; a test names the set it needs (`registry("eval")`), so each keeps the names, options
and numbers its tests were written for:

- `trainer`: what the trainer's tests train on the tiny melodies of `data.write_dataset`. Audio
  `tiny` (log-mel, a width-3 convolution over time), sheet `cnn` (pixel columns as time steps),
  lyrics `bag` (hashed syllables weighted by an IDF learnt in `fit`); objectives `infonce`
  (pairwise, on rows gathered from every process), `tri` (three views only) and `centre`
  (nothing to train, fitted).
- `eval`: `evaltone`, `evalbars`, `evalbag` and `evalnce`: width-1 convolutions and masked means,
  so an item's embedding does not depend on the batch it is encoded in (a test can recompute
  every embedding one item at a time).
- `store`: `wavestats` (frame statistics of the waveform, resampled to 8 kHz, so `embed` cuts
  windows), `pixels` (ink statistics of pixel columns), `chars` (letter frequencies) and `proj`
  (a linear map per modality into a normalised 8-d space): what the embedding store's tests and
  benchmark embed with.

`registry(*sets)` registers them, and the installed baselines (`syllable_count`,
`onset_count`) that `eval` reports beside them. The audio and sheet encoders share one body
(`ConvEncoder`), the lyrics encoders another (`VectorEncoder`), the projecting objectives a
third (`Projection`). Everything lives at module level, so loader workers and spawned processes
can import it.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from ugaar_kit.data.lyrics_text import normalize_lyrics
from ugaar_kit.data.media import read_audio
from ugaar_kit.errors import InputError
from ugaar_kit.infra.distributed import gather_views
from ugaar_kit.interfaces.encoder import Batch, Encoder, masked_mean
from ugaar_kit.interfaces.objective import Objective
from ugaar_kit.interfaces.options import option
from ugaar_kit.interfaces.rows import TextLines, Waveform
from ugaar_kit.registry.components import Component, Registry
from ugaar_kit.testing.data import HEIGHT, SR

FRAME = 400
"""Samples per frame of `WaveStats` (50 ms at 8 kHz)."""
ALPHABET = "abcdefghijklmnopqrstuvwxyz "
DISTRIBUTION = "tiny-tests"
"""The distribution `registry` registers the parts under."""


# -- shared bodies -------------------------------------------------------------------------
class ConvEncoder(Encoder):
    """Features `(C, T)`, C = `channels()`; a 1-D convolution of width `kernel` over T to 16
    channels, `activation` (`relu` or `tanh`), a masked mean over T, dropout (the `dropout`
    option where there is one), a linear layer to the `dim` option."""

    kernel: ClassVar[int] = 3
    activation: ClassVar[str] = "relu"

    def channels(self) -> int:
        """C, the rows of `featurize`'s output."""
        raise NotImplementedError

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.conv = nn.Conv1d(self.channels(), 16, self.kernel, padding=self.kernel // 2)
        self.drop = nn.Dropout(getattr(self.options, "dropout", 0.0))
        self.out = nn.Linear(16, self.options.dim)

    @property
    def output_dim(self) -> int:
        return int(self.options.dim)

    def forward(self, batch: Batch) -> Tensor:
        h = self.conv(batch.data)
        h = torch.tanh(h) if self.activation == "tanh" else torch.relu(h)
        return self.out(self.drop(masked_mean(h, batch.mask)))


class VectorEncoder(TextLines, Encoder):
    """A lyrics encoder: one feature vector of `width` values per line; the batch is their
    stack, the output a linear layer to the `dim` option."""

    modality = "lyrics"

    def width(self) -> int:
        """The length of `featurize`'s output."""
        raise NotImplementedError

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.out = nn.Linear(self.width(), self.options.dim)

    @property
    def output_dim(self) -> int:
        return int(self.options.dim)

    def collate(self, features: Sequence[Tensor]) -> Batch:
        return Batch(torch.stack(list(features)))

    def forward(self, batch: Batch) -> Tensor:
        return self.out(batch.data)


def read_image(path: Path) -> np.ndarray:
    """An image file as greyscale pixels `(H, W)` uint8, or InputError."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's problem
        raise InputError(path, f"cannot read image ({exc})") from None


@functools.cache
def _mel(n_mels: int) -> Any:
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(sample_rate=SR, n_fft=256, hop_length=128, n_mels=n_mels)


# -- audio ---------------------------------------------------------------------------------
class TinyAudio(ConvEncoder):
    """Log-mel, one 1-D convolution over time, masked mean, linear. Reads 8 kHz files only."""

    name = "tiny"
    modality = "audio"
    description = "a small log-mel conv encoder for tests"
    extensions = (".wav",)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "output width", min=1)
        n_mels: int = option(16, "mel bands", min=2)
        dropout: float = option(0.0, "dropout before the output layer", min=0.0, max=0.9)

    def channels(self) -> int:
        return int(self.options.n_mels)

    def load_item(self, path: Path) -> np.ndarray:
        audio, rate = read_audio(path)
        if rate != SR:
            raise InputError(path, f"sample rate {rate} is not {SR}")
        return audio

    def featurize(self, raw: np.ndarray) -> Tensor:
        wave = torch.as_tensor(np.asarray(raw, dtype=np.float32))
        return torch.log(_mel(self.options.n_mels)(wave) + 1e-5)


class EvalAudio(TinyAudio):
    """`TinyAudio` with a width-1 convolution and tanh: each frame mapped alone."""

    name = "evaltone"
    description = "log-mel, per-frame linear map, mean over time (eval tests)"
    kernel = 1
    activation = "tanh"


class WaveStats(Waveform, ConvEncoder):
    """Per 50 ms frame the mean absolute value, standard deviation and zero-crossing rate of the
    waveform (resampled to `sample_rate`; `Waveform` reads it, a block at a time in `embed`),
    then the convolution body."""

    name = "wavestats"
    modality = "audio"
    description = "frame statistics of the waveform, for tests"
    extensions = (".wav", ".flac")

    @dataclass(frozen=True)
    class Options:
        dim: int = option(16, "output width", min=1)
        sample_rate: int = option(SR, "rate audio is resampled to", min=1000)

    def channels(self) -> int:
        return 3

    def featurize(self, raw: Tensor) -> Tensor:
        wave = torch.as_tensor(raw, dtype=torch.float32)
        pad = (-wave.numel()) % FRAME
        frames = F.pad(wave, (0, pad)).reshape(-1, FRAME)
        zcr = (torch.sign(frames[:, 1:]) != torch.sign(frames[:, :-1])).float().mean(1)
        return torch.stack([frames.abs().mean(1), frames.std(1), zcr])


# -- sheet ---------------------------------------------------------------------------------
class TinySheet(ConvEncoder):
    """Pixel columns as time steps: one 1-D convolution over width, masked mean, linear.
    Named `cnn` and declared the default sheet encoder of the test registry."""

    name = "cnn"
    modality = "sheet"
    description = "a small column conv encoder for tests"
    extensions = (".png",)
    default = True

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "output width", min=1)

    def channels(self) -> int:
        return HEIGHT

    def load_item(self, path: Path) -> np.ndarray:
        return read_image(path)

    def featurize(self, raw: np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(raw, dtype=np.float32) / 255.0)


class EvalSheet(TinySheet):
    """`TinySheet` with a width-1 convolution and tanh: each column mapped alone."""

    name = "evalbars"
    description = "per-column linear map, mean over width (eval tests)"
    default = False
    kernel = 1
    activation = "tanh"


class PixelStats(TinySheet):
    """Per pixel column the mean and spread of the ink, then the convolution body."""

    name = "pixels"
    description = "ink statistics of pixel columns, for tests"
    default = False

    @dataclass(frozen=True)
    class Options:
        dim: int = option(16, "output width", min=1)

    def channels(self) -> int:
        return 2

    def featurize(self, raw: np.ndarray) -> Tensor:
        ink = 1.0 - torch.as_tensor(np.asarray(raw, dtype=np.float32) / 255.0)
        return torch.stack([ink.mean(0), ink.std(0)])


# -- lyrics --------------------------------------------------------------------------------
class EvalLyrics(VectorEncoder):
    """Hashed bag of syllables, linear."""

    name = "evalbag"
    description = "hashed bag of syllables (eval tests)"

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "output width", min=1)
        buckets: int = option(32, "hash buckets", min=2)

    def width(self) -> int:
        return int(self.options.buckets)

    def _bucket(self, syllable: str) -> int:
        return zlib.crc32(syllable.encode()) % self.options.buckets

    def load_item(self, path: Path) -> str:
        return Path(path).read_text(encoding="utf-8")

    def featurize(self, raw: str) -> Tensor:
        counts = torch.zeros(self.options.buckets)
        for s in raw.split():
            counts[self._bucket(s)] += 1
        return counts


class TinyLyrics(EvalLyrics):
    """The hashed bag of syllables weighted by IDF learnt in `fit`, then linear."""

    name = "bag"
    description = "a hashed bag-of-syllables encoder with fitted IDF, for tests"
    needs_fit = True
    idf: Tensor

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.register_buffer("idf", torch.zeros(self.options.buckets))
        self.fitted = False

    def fit(self, raws: Sequence[str]) -> None:
        df = torch.zeros(self.options.buckets)
        for text in raws:
            for b in {self._bucket(s) for s in text.split()}:
                df[b] += 1
        self.idf.copy_(torch.log((1 + len(raws)) / (1 + df)) + 1)
        self.fitted = True

    @property
    def is_fitted(self) -> bool:
        return self.fitted

    def get_extra_state(self) -> dict[str, Any]:
        return {"fitted": self.fitted}

    def set_extra_state(self, state: Mapping[str, Any]) -> None:
        self.fitted = bool(state["fitted"])

    def feature_key(self) -> str:
        digest = zlib.crc32(self.idf.numpy().tobytes())
        return f"{super().feature_key()[:8]}{digest:08x}"

    def featurize(self, raw: str) -> Tensor:
        return super().featurize(raw) * self.idf


class CharCounts(VectorEncoder):
    """Letter and space frequencies of the normalized lyrics, linear."""

    name = "chars"
    description = "letter frequencies of the line, for tests"

    @dataclass(frozen=True)
    class Options:
        dim: int = option(16, "output width", min=1)

    def width(self) -> int:
        return len(ALPHABET)

    def load_item(self, path: Path) -> str:
        return normalize_lyrics(Path(path).read_text(encoding="utf-8"))

    def featurize(self, raw: str) -> Tensor:
        counts = torch.tensor([float(raw.count(c)) for c in ALPHABET])
        return counts / counts.sum().clamp_min(1.0)


# -- objectives ----------------------------------------------------------------------------
class Projection(Objective):
    """A learnt linear map per modality into a normalised shared space of width `dim`; the loss
    is the squared distance between the first two views."""

    name = "proj"
    default_modalities: ClassVar[tuple[str, ...]] = ("audio", "sheet")
    description = "a linear map per modality into a normalised shared space, for tests"

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "shared width", min=1)

    def __init__(self, options: Any, dims: Mapping[str, int]) -> None:
        super().__init__(options, dims)
        self.proj = nn.ModuleDict({m: nn.Linear(d, self.options.dim) for m, d in dims.items()})

    @property
    def shared_dim(self) -> int:
        return int(self.options.dim)

    def project(self, modality: str, z: Tensor) -> Tensor:
        return F.normalize(self.proj[modality](z), dim=-1)

    def loss(self, views: Mapping[str, Tensor]) -> dict[str, Tensor]:
        a, b = (self.project(m, z) for m, z in list(views.items())[:2])
        return {"objective": (a - b).pow(2).sum(1).mean()}


class TinyInfoNCE(Projection):
    """Symmetric InfoNCE over every pair of views, on rows gathered from all processes, after
    the learnt projection."""

    name = "infonce"
    description = "pairwise InfoNCE with learnt projections, for tests"
    n_views: ClassVar[tuple[int, ...]] = (2, 3)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "shared width", min=1)
        temperature: float = option(0.2, "softmax temperature", min=0.001)
        min_rows: int = option(2, "smallest batch accepted", min=2)

    @property
    def min_batch(self) -> int:
        return int(self.options.min_rows)

    def loss(self, views: Mapping[str, Tensor]) -> dict[str, Tensor]:
        views = gather_views(views)
        p = {m: self.project(m, z) for m, z in views.items()}
        mods = list(p)
        terms = []
        for i in range(len(mods)):
            for j in range(i + 1, len(mods)):
                logits = p[mods[i]] @ p[mods[j]].T / self.options.temperature
                target = torch.arange(logits.shape[0], device=logits.device)
                terms.append((F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2)
        total = torch.stack(terms).mean()
        return {"objective": total, "pairs": torch.tensor(float(len(terms)))}


class TinyTri(TinyInfoNCE):
    name = "tri"
    description = "InfoNCE over exactly three modalities, for tests"
    n_views = (3,)
    default_modalities = ("audio", "sheet", "lyrics")


class EvalInfoNCE(TinyInfoNCE):
    """`TinyInfoNCE` into a 6-d shared space."""

    name = "evalnce"
    description = "pairwise InfoNCE with linear projections (eval tests)"

    @dataclass(frozen=True)
    class Options(TinyInfoNCE.Options):
        dim: int = option(6, "shared width", min=1)


class TinyCentre(Objective):
    """Nothing to train: `fit` learns each modality's mean; `project` centres and normalises."""

    name = "centre"
    description = "centring fitted on the training split, nothing to train; for tests"
    trainable = False
    n_views = (2, 3)
    default_modalities = ("audio", "sheet")

    def __init__(self, options: Any, dims: Mapping[str, int]) -> None:
        super().__init__(options, dims)
        for m, d in dims.items():
            self.register_buffer(f"mean_{m}", torch.zeros(d))

    def loss(self, views: Mapping[str, Tensor]) -> dict[str, Tensor]:
        z = list(views.values())
        return {"objective": (z[0] - z[1]).pow(2).mean()}

    def fit(self, views: Mapping[str, Tensor]) -> None:
        for m, z in views.items():
            getattr(self, f"mean_{m}").copy_(z.mean(0))

    def project(self, modality: str, z: Tensor) -> Tensor:
        return F.normalize(z - getattr(self, f"mean_{modality}"), dim=-1)


# -- the sets and the registry -------------------------------------------------------------
@dataclass(frozen=True)
class PartSet:
    """One set of parts: an encoder per modality and the objectives over them (the first is
    the one `runs.write_run` writes)."""

    encoders: Mapping[str, type[Encoder]]
    objectives: tuple[type[Objective], ...]

    @property
    def classes(self) -> tuple[type, ...]:
        return (*self.encoders.values(), *self.objectives)


SETS = {
    "trainer": PartSet(
        {"audio": TinyAudio, "sheet": TinySheet, "lyrics": TinyLyrics}, (TinyInfoNCE, TinyTri, TinyCentre)
    ),
    "eval": PartSet({"audio": EvalAudio, "sheet": EvalSheet, "lyrics": EvalLyrics}, (EvalInfoNCE,)),
    "store": PartSet({"audio": WaveStats, "sheet": PixelStats, "lyrics": CharCounts}, (Projection,)),
}


@functools.cache
def _installed_baselines() -> tuple[Component, ...]:
    """The baselines the installed plugins register (ugaar-kit's own `baseline-counts` among
    them), found by discovery as `ugaar-kit` finds them (a fresh load: the process-wide registry
    is left alone)."""
    from ugaar_kit.registry.discovery import load_registry

    return tuple(load_registry()[0].all("baseline"))


def registry(*sets: str, distribution: str = DISTRIBUTION, baselines: bool = True) -> Registry:
    """A registry of the parts of `sets` (names in `SETS`; default: `trainer`), in order,
    registered under `distribution`; with `baselines`, also the installed baselines, which
    `eval` and the trainer's validation report beside a run that has lyrics."""
    reg = Registry()
    for name in sets or ("trainer",):
        for cls in SETS[name].classes:
            reg.add(cls, distribution, "1.0", "ugaar_kit.testing")
    if baselines:
        reg.extend(_installed_baselines())
    return reg
