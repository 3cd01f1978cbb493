"""Small real components and a small real dataset folder for the trainer's tests.

The dataset: each item is a short melody (3 to 6 notes from 8 pitches); its audio is the
melody as sine tones, its sheet a 16-row image with one bar per note (row = pitch, length =
duration) and its lyrics the pitch names, so the three modalities carry the same content and
retrieval is learnable in a few epochs. Importable by worker processes (spawn), so everything
here lives at module level.
"""

from __future__ import annotations

import functools
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from ugaar_kit.distributed import gather_views
from ugaar_kit.encoder import Batch, Encoder, masked_mean
from ugaar_kit.errors import InputError
from ugaar_kit.objective import Objective
from ugaar_kit.options import option
from ugaar_kit.registry import Registry

SR = 8000
PITCH_NAMES = ("do", "re", "mi", "fa", "sol", "la", "ti", "doh")
HEIGHT = 16


# -- encoders ------------------------------------------------------------------------------
@functools.cache
def _mel(n_mels: int) -> Any:
    import torchaudio

    return torchaudio.transforms.MelSpectrogram(sample_rate=SR, n_fft=256, hop_length=128, n_mels=n_mels)


class TinyAudio(Encoder):
    """Log-mel, one 1-D convolution over time, masked mean, linear."""

    name = "tiny"
    modality = "audio"
    description = "a small log-mel conv encoder for tests"
    extensions = (".wav",)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "output width", min=1)
        n_mels: int = option(16, "mel bands", min=2)
        dropout: float = option(0.0, "dropout before the output layer", min=0.0, max=0.9)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        o = self.options
        self.conv = nn.Conv1d(o.n_mels, 16, 3, padding=1)
        self.drop = nn.Dropout(o.dropout)
        self.out = nn.Linear(16, o.dim)

    @property
    def output_dim(self) -> int:
        return self.options.dim

    def load_item(self, path: Path) -> np.ndarray:
        try:
            audio, sr = soundfile.read(str(path), dtype="float32")
        except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's problem
            raise InputError(path, f"cannot decode audio ({exc})") from None
        if sr != SR:
            raise InputError(path, f"sample rate {sr} is not {SR}")
        return audio

    def featurize(self, raw: np.ndarray) -> Tensor:
        wave = torch.as_tensor(np.asarray(raw, dtype=np.float32))
        return torch.log(_mel(self.options.n_mels)(wave) + 1e-5)

    def forward(self, batch: Batch) -> Tensor:
        h = torch.relu(self.conv(batch.data))
        return self.out(self.drop(masked_mean(h, batch.mask)))


class TinySheet(Encoder):
    """Pixel columns as time steps: one 1-D convolution over width, masked mean, linear.
    Named `cnn` so it is the default sheet encoder in the test registry."""

    name = "cnn"
    modality = "sheet"
    description = "a small column conv encoder for tests"
    extensions = (".png",)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "output width", min=1)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.conv = nn.Conv1d(HEIGHT, 16, 3, padding=1)
        self.out = nn.Linear(16, self.options.dim)

    @property
    def output_dim(self) -> int:
        return self.options.dim

    def load_item(self, path: Path) -> np.ndarray:
        try:
            with Image.open(path) as im:
                return np.asarray(im.convert("L"))
        except Exception as exc:  # noqa: BLE001
            raise InputError(path, f"cannot read image ({exc})") from None

    def featurize(self, raw: np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(raw, dtype=np.float32) / 255.0)

    def forward(self, batch: Batch) -> Tensor:
        return self.out(masked_mean(torch.relu(self.conv(batch.data)), batch.mask))


class TinyLyrics(Encoder):
    """Hashed bag of syllables weighted by IDF learnt in `fit`, then linear."""

    name = "bag"
    modality = "lyrics"
    description = "a hashed bag-of-syllables encoder with fitted IDF, for tests"
    needs_fit = True

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "output width", min=1)
        buckets: int = option(32, "hash buckets", min=2)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.register_buffer("idf", torch.zeros(self.options.buckets))
        self.fitted = False
        self.out = nn.Linear(self.options.buckets, self.options.dim)

    @property
    def output_dim(self) -> int:
        return self.options.dim

    def _bucket(self, syllable: str) -> int:
        return zlib.crc32(syllable.encode()) % self.options.buckets

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

    def load_item(self, path: Path) -> str:
        return Path(path).read_text(encoding="utf-8")

    def featurize(self, raw: str) -> Tensor:
        counts = torch.zeros(self.options.buckets)
        for s in raw.split():
            counts[self._bucket(s)] += 1
        return counts * self.idf

    def collate(self, features: Sequence[Tensor]) -> Batch:
        return Batch(torch.stack(list(features)))

    def forward(self, batch: Batch) -> Tensor:
        return self.out(batch.data)


# -- objectives ----------------------------------------------------------------------------
class TinyInfoNCE(Objective):
    """Symmetric InfoNCE over every pair of views, on rows gathered from all processes, after a
    learnt linear projection per modality."""

    name = "infonce"
    description = "pairwise InfoNCE with learnt projections, for tests"
    n_views = (2, 3)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "shared width", min=1)
        temperature: float = option(0.2, "softmax temperature", min=0.001)
        min_rows: int = option(2, "smallest batch accepted", min=2)

    def __init__(self, options: Any, dims: Mapping[str, int]) -> None:
        super().__init__(options, dims)
        self.proj = nn.ModuleDict({m: nn.Linear(d, self.options.dim) for m, d in dims.items()})

    @property
    def min_batch(self) -> int:
        return self.options.min_rows

    @property
    def shared_dim(self) -> int:
        return self.options.dim

    def project(self, modality: str, z: Tensor) -> Tensor:
        return F.normalize(self.proj[modality](z), dim=-1)

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


class TinyCentre(Objective):
    """Nothing to train: `fit` learns each modality's mean; `project` centres and normalises."""

    name = "centre"
    description = "centring fitted on the training split, nothing to train; for tests"
    trainable = False
    n_views = (2, 3)

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


def tiny_registry() -> Registry:
    reg = Registry()
    for cls in (TinyAudio, TinySheet, TinyLyrics, TinyInfoNCE, TinyTri, TinyCentre):
        reg.add(cls, "tiny-tests", "1.0", "tiny_parts")
    return reg


# -- dataset -------------------------------------------------------------------------------
def melody(rng: np.random.Generator) -> list[tuple[int, float]]:
    return [(int(rng.integers(0, 8)), float(rng.choice([0.08, 0.12, 0.16]))) for _ in range(int(rng.integers(3, 7)))]


def write_item(root: Path, item_id: str, notes: list[tuple[int, float]]) -> dict[str, str]:
    """Audio, sheet and lyrics of one melody; returns the manifest paths and lyrics."""
    waves = []
    for pitch, dur in notes:
        t = np.arange(int(dur * SR)) / SR
        waves.append(0.5 * np.sin(2 * np.pi * 220.0 * 2 ** (pitch * 2 / 12) * t))
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "sheet").mkdir(parents=True, exist_ok=True)
    soundfile.write(root / "audio" / f"{item_id}.wav", np.concatenate(waves).astype(np.float32), SR)
    cols = [int(d * 100) for _, d in notes]
    img = np.full((HEIGHT, sum(cols) + 2), 255, np.uint8)
    x = 1
    for (pitch, _), w in zip(notes, cols):
        img[HEIGHT - 2 - pitch * 2 : HEIGHT - pitch * 2, x : x + w - 1] = 0
        x += w
    Image.fromarray(img).save(root / "sheet" / f"{item_id}.png")
    return {
        "audio": f"audio/{item_id}.wav",
        "sheet": f"sheet/{item_id}.png",
        "lyrics": " ".join(PITCH_NAMES[p] for p, _ in notes),
    }


def write_dataset(
    root: Path,
    n_train: int = 32,
    n_valid: int = 12,
    seed: int = 0,
    modalities: Sequence[str] = ("audio", "sheet", "lyrics"),
) -> Path:
    """A dataset folder of `n_train + n_valid` melodies (one song each) with the modalities given."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n_train + n_valid):
        item_id = f"m{k:03d}"
        paths = write_item(root, item_id, melody(rng))
        row: dict[str, Any] = {"id": item_id, "song": f"song{k}", "split": "train" if k < n_train else "valid"}
        row.update({m: paths[m] for m in modalities})
        rows.append(row)
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "dataset.json").write_text(json.dumps({"name": "tiny-melodies"}), encoding="utf-8")
    return root
