"""Small real components, a dataset folder and a run folder for the `eval` tests.

The dataset: songs of short melodies; each passage's audio is its notes as sine tones, its
sheet a 16-row image with one bar per note, its lyrics one syllable per note. Some songs repeat
a passage verbatim (same `group`, identical files). The manifest rows carry `notes` as
[pitch, onset_s, duration_s] like the builder's.

The encoders use kernel-1 convolutions and masked means, so an item's embedding does not depend
on the batch it is encoded in: a test can recompute every embedding one item at a time.
"""

from __future__ import annotations

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

from ugaar_kit.encoder import Batch, Encoder, masked_mean
from ugaar_kit.errors import InputError
from ugaar_kit.objective import Objective
from ugaar_kit.options import option
from ugaar_kit.registry import Registry
from ugaar_kit.training import checkpoint as ckpt

SR = 8000
HEIGHT = 16
SYLLABLES = ("la", "na", "do", "re", "mi", "so", "ti", "ka", "lo", "be")


class EvalAudio(Encoder):
    """Log-mel frames, a kernel-1 convolution, masked mean over time, linear."""

    name = "evaltone"
    modality = "audio"
    description = "log-mel, per-frame linear map, mean over time (eval tests)"
    extensions = (".wav",)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "output width", min=1)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        import torchaudio

        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate=SR, n_fft=256, hop_length=128, n_mels=16)
        self.frame = nn.Conv1d(16, 16, 1)
        self.out = nn.Linear(16, self.options.dim)

    @property
    def output_dim(self) -> int:
        return self.options.dim

    def load_item(self, path: Path) -> np.ndarray:
        try:
            audio, sr = soundfile.read(str(path), dtype="float32")
        except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's problem
            raise InputError(path, f"cannot decode audio ({exc})") from None
        return audio

    def featurize(self, raw: np.ndarray) -> Tensor:
        return torch.log(self.mel(torch.as_tensor(np.asarray(raw, dtype=np.float32))) + 1e-5)

    def forward(self, batch: Batch) -> Tensor:
        return self.out(masked_mean(torch.tanh(self.frame(batch.data)), batch.mask))


class EvalSheet(Encoder):
    """Pixel columns as time steps: a kernel-1 convolution, masked mean, linear."""

    name = "evalbars"
    modality = "sheet"
    description = "per-column linear map, mean over width (eval tests)"
    extensions = (".png",)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "output width", min=1)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.column = nn.Conv1d(HEIGHT, 16, 1)
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
        return self.out(masked_mean(torch.tanh(self.column(batch.data)), batch.mask))


class EvalLyrics(Encoder):
    """Hashed bag of syllables, linear."""

    name = "evalbag"
    modality = "lyrics"
    description = "hashed bag of syllables (eval tests)"

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "output width", min=1)
        buckets: int = option(32, "hash buckets", min=2)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.out = nn.Linear(self.options.buckets, self.options.dim)

    @property
    def output_dim(self) -> int:
        return self.options.dim

    def load_item(self, path: Path) -> str:
        return Path(path).read_text(encoding="utf-8")

    def featurize(self, raw: str) -> Tensor:
        counts = torch.zeros(self.options.buckets)
        for s in raw.split():
            counts[zlib.crc32(s.encode()) % self.options.buckets] += 1
        return counts

    def collate(self, features: Sequence[Tensor]) -> Batch:
        return Batch(torch.stack(list(features)))

    def forward(self, batch: Batch) -> Tensor:
        return self.out(batch.data)


class EvalInfoNCE(Objective):
    """A learnt linear projection per modality into a normalised shared space; pairwise InfoNCE."""

    name = "evalnce"
    description = "pairwise InfoNCE with linear projections (eval tests)"
    n_views = (2, 3)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(6, "shared width", min=1)

    def __init__(self, options: Any, dims: Mapping[str, int]) -> None:
        super().__init__(options, dims)
        self.proj = nn.ModuleDict({m: nn.Linear(d, self.options.dim) for m, d in dims.items()})

    @property
    def shared_dim(self) -> int:
        return self.options.dim

    def project(self, modality: str, z: Tensor) -> Tensor:
        return F.normalize(self.proj[modality](z), dim=-1)

    def loss(self, views: Mapping[str, Tensor]) -> dict[str, Tensor]:
        p = {m: self.project(m, z) for m, z in views.items()}
        mods = list(p)
        terms = []
        for i in range(len(mods)):
            for j in range(i + 1, len(mods)):
                logits = p[mods[i]] @ p[mods[j]].T / 0.2
                target = torch.arange(logits.shape[0])
                terms.append((F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2)
        return {"objective": torch.stack(terms).mean()}


ENCODERS = {"audio": EvalAudio, "sheet": EvalSheet, "lyrics": EvalLyrics}


def eval_registry() -> Registry:
    reg = Registry()
    for cls in (EvalAudio, EvalSheet, EvalLyrics, EvalInfoNCE):
        reg.add(cls, "eval-tests", "1.0", "eval_parts")
    return reg


def write_run(
    folder: Path, modalities: Sequence[str], registry: Registry, seed: int = 0, run_id: str = "evalrun-1"
) -> Path:
    """A run folder holding `model.pt` with randomly initialised (seeded) components, in the
    checkpoint format the trainer writes."""
    torch.manual_seed(seed)
    encoders = {m: ENCODERS[m]() for m in modalities}
    objective = EvalInfoNCE(EvalInfoNCE.Options(), {m: e.output_dim for m, e in encoders.items()})
    components = {m: registry.get("encoder", ENCODERS[m].name, m) for m in modalities}
    state = ckpt.model_state(run_id, encoders, components, objective, registry.get("objective", "evalnce"), {}, 0)
    folder.mkdir(parents=True, exist_ok=True)
    ckpt.save(state, folder / "model.pt")
    return folder


# -- dataset -------------------------------------------------------------------------------
def write_files(root: Path, item_id: str, notes: list[tuple[int, float]], lyrics: str) -> dict[str, str]:
    """Audio (sine tones), sheet (a bar per note) and lyrics of one passage; manifest fields."""
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "sheet").mkdir(parents=True, exist_ok=True)
    waves = [0.5 * np.sin(2 * np.pi * 220.0 * 2 ** (p / 12) * np.arange(int(d * SR)) / SR) for p, d in notes]
    soundfile.write(root / "audio" / f"{item_id}.wav", np.concatenate(waves).astype(np.float32), SR)
    widths = [int(d * 100) for _, d in notes]
    img = np.full((HEIGHT, sum(widths) + 2), 255, np.uint8)
    x = 1
    for (pitch, _), w in zip(notes, widths):
        row = HEIGHT - 2 - (pitch % 14)
        img[row : row + 2, x : x + w - 1] = 0
        x += w
    Image.fromarray(img).save(root / "sheet" / f"{item_id}.png")
    onsets = np.concatenate([[0.0], np.cumsum([d for _, d in notes])[:-1]])
    return {
        "audio": f"audio/{item_id}.wav",
        "sheet": f"sheet/{item_id}.png",
        "lyrics": lyrics,
        "notes": [[p, round(float(o), 4), d] for (p, d), o in zip(notes, onsets)],
    }


def write_dataset(
    root: Path,
    splits: Mapping[str, int] = {"train": 0, "test": 14},  # noqa: B006 - read only
    passages: int = 3,
    seed: int = 0,
    modalities: Sequence[str] = ("audio", "sheet", "lyrics"),
) -> Path:
    """Songs of `passages` passages per split (`{split: songs}`); every third song sings its
    first passage again verbatim at the end (same group). Lyrics often have one syllable more
    or fewer than the notes, so the syllable-count baseline is informative but not perfect."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    song_no = 0
    for split, n_songs in splits.items():
        for _ in range(n_songs):
            song = f"song{song_no:03d}"
            song_no += 1
            drawn = []
            for k in range(passages):
                n = int(rng.integers(3, 12))
                notes = [(int(rng.integers(0, 24)), float(rng.choice([0.06, 0.1, 0.14]))) for _ in range(n)]
                syl = max(1, n + int(rng.choice([-1, 0, 0, 1])))
                lyrics = " ".join(SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), syl))
                drawn.append((f"{song}-p{k}", notes, lyrics, f"g{k}"))
            if song_no % 3 == 0:
                first = drawn[0]
                drawn.append((f"{song}-p{passages}", first[1], first[2], first[3]))
            for item_id, notes, lyrics, group in drawn:
                fields = write_files(root, item_id, notes, lyrics)
                row: dict[str, Any] = {"id": item_id, "song": song, "split": split, "group": group}
                row.update({m: fields[m] for m in modalities})
                row["notes"] = fields["notes"]
                rows.append(row)
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (root / "dataset.json").write_text(json.dumps({"name": "eval-test-songs"}), encoding="utf-8")
    return root
