"""Fixed front ends shared by the built-in encoders: audio to a log-mel (or log-frequency)
spectrogram, an engraved snippet to an ink image of a given size. Both are deterministic, so
their outputs can be cached.

`scale=log` replaces the mel filterbank with triangular bands evenly spaced in log frequency,
as CPJKU's audio-sheet models read audio (12 bands an octave, madmom's logarithmic filterbank):
a semitone is then the same number of rows at every pitch, where the default 80 mel bands are
nearly linear in Hz below 1 kHz and wider than a semitone below about 700 Hz (2.4 semitones at
200 Hz), the range a sung melody's fundamental lies in (its harmonics fall in finer bands). A
band narrower than the STFT's bin spacing is widened to one bin each side of its centre, so
every band reads the bins nearest its centre (at 2048 samples and 22.05 kHz, bands below about
180 Hz overlap).

`LogMelOptions` holds the audio front end's options; an encoder's options class extends it (so
`plugins show` lists them and the feature cache key can name them: `LOG_MEL_OPTIONS`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ugaar_kit.interfaces.options import option


@dataclass(frozen=True)
class LogMelOptions:
    sample_rate: int = option(22050, "Sample rate (Hz) audio is resampled to.", min=4000, max=192000)
    n_fft: int = option(2048, "STFT window length in samples.", min=64, max=16384)
    hop: int = option(1024, "STFT hop in samples (1024 at 22.05 kHz = 21.5 frames/s).", min=16, max=16384)
    n_mels: int = option(
        80, "Frequency bands (the spectrogram's height): mel bands, or log-spaced ones.", min=8, max=512
    )
    f_min: float = option(30.0, "Lowest band edge (Hz).", min=0.0)
    f_max: float = option(8000.0, "Highest band edge (Hz); at most half the sample rate.", min=100.0)
    scale: Literal["mel", "log"] = option(
        "mel", "Band spacing: mel, or log (even in log frequency: n_mels bands over log2(f_max/f_min) octaves)."
    )
    max_seconds: float = option(30.0, "Longer audio is cut to its first max_seconds.", min=0.1, max=3600.0)
    normalize: Literal["item", "none"] = option("item", "Standardise each log-mel spectrogram (item) or not (none).")

    def __post_init__(self) -> None:
        if self.f_max > self.sample_rate / 2:
            raise ValueError(f"f_max {self.f_max} is above half the sample rate ({self.sample_rate / 2})")
        if self.f_min >= self.f_max:
            raise ValueError(f"f_min {self.f_min} must be below f_max {self.f_max}")
        if self.scale == "log" and self.f_min <= 0:
            raise ValueError(f"scale=log needs f_min above 0 Hz, got {self.f_min}")


LOG_MEL_OPTIONS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LogMelOptions))
"""The options the log-mel front end depends on."""


def log_fbanks(n_freqs: int, f_min: float, f_max: float, n_bands: int, sample_rate: int) -> Tensor:
    """Triangular filters evenly spaced in log frequency, `(n_freqs, n_bands)` like torchaudio's
    `melscale_fbanks` (peak 1): band k rises from edge k to edge k+1 and falls to edge k+2 of
    `n_bands + 2` edges from `f_min` to `f_max`, widened to at least one STFT bin each side."""
    bins = torch.linspace(0.0, sample_rate / 2, n_freqs, dtype=torch.float64)
    step = float(bins[1] - bins[0])
    edges = torch.logspace(math.log10(f_min), math.log10(f_max), n_bands + 2, dtype=torch.float64)
    centre = edges[1:-1]
    left = torch.minimum(edges[:-2], centre - step)
    right = torch.maximum(edges[2:], centre + step)
    f = bins[:, None]
    rise = (f - left) / (centre - left)
    fall = (right - f) / (right - centre)
    return torch.minimum(rise, fall).clamp_min(0.0).to(torch.float32)


class _Bands(nn.Module):
    """Waveform -> power spectrogram -> `(..., n_mels, T)` bands through a fixed filterbank: mel
    (torchaudio's `melscale_fbanks`, as its `MelSpectrogram` computes them) or log-spaced
    (`log_fbanks`)."""

    def __init__(self, o: LogMelOptions) -> None:
        super().__init__()
        import torchaudio

        # zeros around the clip: any length works, even below n_fft / 2
        self.spectrogram = torchaudio.transforms.Spectrogram(
            n_fft=o.n_fft, hop_length=o.hop, power=2.0, pad_mode="constant"
        )
        n_freqs = o.n_fft // 2 + 1
        if o.scale == "log":
            fb = log_fbanks(n_freqs, o.f_min, o.f_max, o.n_mels, o.sample_rate)
        else:
            fb = torchaudio.functional.melscale_fbanks(n_freqs, o.f_min, o.f_max, o.n_mels, o.sample_rate)
        self.fb: Tensor
        self.register_buffer("fb", fb)

    def forward(self, wave: Tensor) -> Tensor:
        return torch.matmul(self.spectrogram(wave).transpose(-1, -2), self.fb).transpose(-1, -2)


class LogMel:
    """Waveform `(S,)` at `sample_rate` -> log-mel `(n_mels, T)` float32, `T = 1 + S' // hop`
    (S' = S cut to `max_seconds`): power mel (or, `scale=log`, log-frequency) spectrogram in dB,
    floored 80 dB below the item's peak, standardised per item with `normalize=item`. A plain
    object, not a module: nothing of it goes into an encoder's state; the torchaudio transform is
    built on first use."""

    def __init__(self, options: LogMelOptions) -> None:
        self.options = options
        self._transform: nn.Module | None = None

    def _build(self) -> nn.Module:
        if self._transform is None:
            import torchaudio

            db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0)
            self._transform = nn.Sequential(_Bands(self.options), db)
        return self._transform

    def __call__(self, raw: Any) -> Tensor:
        o = self.options
        wave = torch.as_tensor(raw, dtype=torch.float32).reshape(-1)
        wave = wave[: int(round(o.max_seconds * o.sample_rate))]
        if wave.numel() == 0:
            raise ValueError("cannot featurize an empty waveform")
        with torch.no_grad():
            spec = self._build()(wave)
            if o.normalize == "item":
                spec = (spec - spec.mean()) / spec.std(unbiased=False).clamp_min(1e-3)
        return spec.contiguous()


def resize_2d(x: Tensor, height: int, width: int) -> Tensor:
    """`(H, W)` -> `(height, width)`, bilinear and antialiased (so shrinking averages, not
    samples); returned as it is when the size already matches."""
    if tuple(x.shape) == (height, width):
        return x
    return F.interpolate(x[None, None], size=(height, width), mode="bilinear", antialias=True, align_corners=False)[
        0, 0
    ]


def greyscale(raw: Any) -> Tensor:
    """A raw image as a float32 `(H, W)` tensor, checked to be 2-D and non-empty."""
    img = torch.as_tensor(raw, dtype=torch.float32)
    if img.ndim != 2 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"expected a non-empty greyscale image (H, W), got shape {tuple(img.shape)}")
    return img


def ink(img: Tensor, height: int, width: int) -> Tensor:
    """Greyscale `(H, W)` in [0, 1] (1 = white) -> ink `(height, width)` in [0, 1] (1 = ink,
    0 = paper, so padding with 0 is blank paper)."""
    return resize_2d(1.0 - img.clamp(0.0, 1.0), height, width).clamp(0.0, 1.0).contiguous()
