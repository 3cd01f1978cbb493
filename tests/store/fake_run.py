"""A tiny real run for the store's tests and benchmark: three small `Encoder`s, a projecting
objective, and a run folder written with the trainer's checkpoint format (so `Run.load` and the
CLI read it as any run).

- audio `wavestats`: per 50 ms frame the mean absolute value, standard deviation and zero-crossing
  rate of the waveform (8 kHz), a 1-D convolution, a masked mean, a linear layer;
- sheet `pixels`: per pixel column the ink mean and spread, the same head;
- lyrics `chars`: letter and space frequencies of the normalized line, a linear layer;
- objective `proj`: a linear map per modality into an 8-d space, L2-normalised.
"""

from __future__ import annotations

import os
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
from ugaar_kit.lyrics_text import normalize_lyrics
from ugaar_kit.objective import Objective
from ugaar_kit.options import option
from ugaar_kit.registry import Registry
from ugaar_kit.training import checkpoint as ckpt

SR = 8000
FRAME = 400
ALPHABET = "abcdefghijklmnopqrstuvwxyz "


class _ConvHead(nn.Module):
    """Conv over time, ReLU, masked mean, linear: `(B, C, T)` -> `(B, dim)`."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, 16, 3, padding=1)
        self.out = nn.Linear(16, dim)

    def forward(self, batch: Batch) -> Tensor:
        return self.out(masked_mean(torch.relu(self.conv(batch.data)), batch.mask))


class WaveStats(Encoder):
    name = "wavestats"
    modality = "audio"
    description = "frame statistics of the waveform, for tests"
    extensions = (".wav", ".flac")

    @dataclass(frozen=True)
    class Options:
        dim: int = option(16, "output width", min=1)
        sample_rate: int = option(SR, "rate audio is resampled to", min=1000)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.head = _ConvHead(3, self.options.dim)

    @property
    def output_dim(self) -> int:
        return self.options.dim

    def load_item(self, path: Path) -> Tensor:
        try:
            audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's problem
            raise InputError(path, f"cannot decode audio ({exc})") from None
        wave = torch.from_numpy(audio.mean(axis=1))
        if wave.numel() == 0:
            raise InputError(path, "no audio samples")
        if rate != self.options.sample_rate:
            import torchaudio

            wave = torchaudio.functional.resample(wave, rate, self.options.sample_rate)
        return wave

    def featurize(self, raw: Tensor) -> Tensor:
        wave = torch.as_tensor(raw, dtype=torch.float32)
        pad = (-wave.numel()) % FRAME
        frames = F.pad(wave, (0, pad)).reshape(-1, FRAME)
        zcr = (torch.sign(frames[:, 1:]) != torch.sign(frames[:, :-1])).float().mean(1)
        return torch.stack([frames.abs().mean(1), frames.std(1), zcr])

    def forward(self, batch: Batch) -> Tensor:
        return self.head(batch)


class PixelStats(Encoder):
    name = "pixels"
    modality = "sheet"
    description = "ink statistics of pixel columns, for tests"
    extensions = (".png",)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(16, "output width", min=1)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.head = _ConvHead(2, self.options.dim)

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
        ink = 1.0 - torch.as_tensor(np.asarray(raw, dtype=np.float32) / 255.0)
        return torch.stack([ink.mean(0), ink.std(0)])

    def forward(self, batch: Batch) -> Tensor:
        return self.head(batch)


class CharCounts(Encoder):
    name = "chars"
    modality = "lyrics"
    description = "letter frequencies of the line, for tests"
    extensions = (".txt",)

    @dataclass(frozen=True)
    class Options:
        dim: int = option(16, "output width", min=1)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.out = nn.Linear(len(ALPHABET), self.options.dim)

    @property
    def output_dim(self) -> int:
        return self.options.dim

    def load_item(self, path: Path) -> str:
        return normalize_lyrics(Path(path).read_text(encoding="utf-8"))

    def featurize(self, raw: str) -> Tensor:
        counts = torch.tensor([float(raw.count(c)) for c in ALPHABET])
        return counts / counts.sum().clamp_min(1.0)

    def collate(self, features: Any) -> Batch:
        return Batch(torch.stack(list(features)))

    def forward(self, batch: Batch) -> Tensor:
        return self.out(batch.data)


class Projection(Objective):
    name = "proj"
    description = "a linear map per modality into a normalised shared space, for tests"

    @dataclass(frozen=True)
    class Options:
        dim: int = option(8, "shared width", min=1)

    def __init__(self, options: Any, dims: Any) -> None:
        super().__init__(options, dims)
        self.proj = nn.ModuleDict({m: nn.Linear(d, self.options.dim) for m, d in dims.items()})

    @property
    def shared_dim(self) -> int:
        return self.options.dim

    def project(self, modality: str, z: Tensor) -> Tensor:
        return F.normalize(self.proj[modality](z), dim=-1)

    def loss(self, views: Any) -> dict[str, Tensor]:
        a, b = (self.project(m, z) for m, z in list(views.items())[:2])
        return {"objective": (a - b).pow(2).sum(1).mean()}


ENCODERS = {"audio": WaveStats, "sheet": PixelStats, "lyrics": CharCounts}


def fake_registry() -> Registry:
    reg = Registry()
    for cls in (*ENCODERS.values(), Projection):
        reg.add(cls, "fake-run-tests", "1.0", "fake_run")
    return reg


def make_run(folder: Path, seed: int = 0, modalities: tuple[str, ...] = ("audio", "sheet", "lyrics")) -> Path:
    """Write a run folder (`model.pt` in the trainer's format) with seeded random weights."""
    reg = fake_registry()
    torch.manual_seed(seed)
    encoders = {m: ENCODERS[m]() for m in modalities}
    objective = Projection(Projection.Options(), {m: e.output_dim for m, e in encoders.items()})
    components = {m: reg.get("encoder", ENCODERS[m].name, m) for m in modalities}
    config = {
        "epochs": 0,
        "seed": seed,
        **{m: {"name": ENCODERS[m].name} for m in modalities},
        "objective": {"name": "proj"},
    }
    state = ckpt.model_state(f"fake-{seed}", encoders, components, objective, reg.get("objective", "proj"), config, 0)
    folder.mkdir(parents=True, exist_ok=True)
    ckpt.save(state, folder / "model.pt")
    return folder


# -- files -------------------------------------------------------------------------------------
def write_wav(path: Path, seconds: float, freq: float = 440.0, rate: int = SR, seed: int = 0) -> Path:
    """A tone with a little noise and a slow tremolo, so windows differ from each other."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.4 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.13 * t)) + 0.02 * rng.standard_normal(
        t.size
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, wave.astype(np.float32), rate, subtype="PCM_16")
    return path


def write_png(path: Path, width: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    img = np.full((24, width), 255, np.uint8)
    for x in range(2, width - 4, 7):
        y = int(rng.integers(2, 20))
        img[y : y + 2, x : x + 4] = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


GOOD = {
    "audio": ["songs/a.wav", "songs/b.wav", "songs/deep/c.wav", "long/d.wav"],
    "sheet": ["scores/a.png", "scores/b.png"],
    "lyrics": ["words/a.txt", "words/b.txt"],
}
"""The good files of `make_folder` by modality (paths relative to the folder)."""
BAD = {
    "songs/broken.wav": "cannot decode audio",
    "words/empty.txt": "no lyrics",
    "scores/notanimage.png": "cannot read image",
    "songs/outside.wav": "outside the input",
    "escape": "outside the input",
}
"""The bad entries of `make_folder` and a word of the reason each must be given."""


def make_folder(root: Path, outside: Path) -> Path:
    """Good audio, images and lyrics; a corrupt WAV, an empty text, a PNG that is not an image,
    symbolic links to a file and a folder outside `root`, hidden files, an unrelated file."""
    write_wav(root / "songs/a.wav", 2.0, 330, seed=1)
    write_wav(root / "songs/b.wav", 4.0, 550, seed=2)
    write_wav(root / "songs/deep/c.wav", 3.0, 220, seed=3, rate=16000)
    write_wav(root / "long/d.wav", 12.0, 440, seed=4)
    write_png(root / "scores/a.png", 80, seed=1)
    write_png(root / "scores/b.png", 140, seed=2)
    write_text(root / "words/a.txt", "Twinkle, twinkle, little star\nHow I wonder what you are\n")
    write_text(root / "words/b.txt", "Amazing grace, how sweet the sound\n")
    (root / "songs/broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    write_text(root / "words/empty.txt", "")
    write_text(root / "scores/notanimage.png", "this is not a PNG")
    write_wav(outside / "secret.wav", 2.0, 880, seed=9)
    write_wav(outside / "folder/more.wav", 2.0, 990, seed=9)
    os.symlink(outside / "secret.wav", root / "songs/outside.wav")
    os.symlink(outside / "folder", root / "escape")
    os.symlink(root / "songs/deep", root / "inside-link")  # a folder inside: not walked twice
    write_wav(root / ".hidden/x.wav", 1.0)
    write_wav(root / "songs/.y.wav", 1.0)
    write_text(root / "README.md", "not embedded")
    return root


def build_cli(registry: Registry | None = None) -> Any:
    """A root app with the `embed`, `search` and `store` commands over `registry`."""
    from ugaar_kit.cli import embed_cmd, search_cmd, store_cmd
    from ugaar_kit.cli.base import App

    reg = registry or fake_registry()
    app = App(name="ugaar-kit", rich_markup_mode="markdown")

    @app.callback()
    def root() -> None:
        """Test root."""

    embed_cmd.add(app, lambda: reg)
    search_cmd.add(app, lambda: reg)
    app.add_typer(store_cmd.make(lambda: reg), name="store")
    return app


if __name__ == "__main__":  # the crash test runs the CLI in a subprocess this way
    import sys

    build_cli()(args=sys.argv[1:], prog_name="ugaar-kit")
