"""The `cnn` audio encoder: log-mel spectrogram -> VGG-style 2-D CNN -> masked pooling over
time -> dense head.

Features follow the audio-sheet retrieval literature (CPJKU: 92 log bands at 22.05 kHz, 20
frames/s): by default 80 mel bands (30 Hz-8 kHz) at 22.05 kHz with a 2048-sample window and a
1024-sample hop, 21.5 frames/s, so a sixteenth note at 120 bpm still spans 2-3 frames while a
median 4.75-s passage is about 100 frames. Power is taken to dB (floor 80 dB below the item's
peak) and, with `normalize=item`, standardised per item (mean 0, std 1): recordings differ in
gain, and per-item statistics keep `featurize` deterministic and cacheable. Audio longer than
`max_seconds` is cut to its first `max_seconds` (the `embed` command windows long recordings
before this, so only training passages above the limit lose their tail).

The CNN's output is pooled into `bins` ordered spans of the passage's real length (default 8;
see `ugaar_kit.layers.MaskedPool`): a melody and its score hold the same local patterns in the
same order, and global pooling throws the order away. Measured with contrastive training of the
small CNNs on 200 LMD songs (validation pool 829, 4 epochs), ordered bins reached audio->sheet
MRR 0.21 where mean+max pooling reached 0.08.

The body may start from saved weights and be frozen (`weights`, `freeze`; see
`ugaar_kit.pretrained`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from ugaar_kit.encoder import Batch, Encoder
from ugaar_kit.layers import DenseHead, MaskedConvStack, MaskedPool, Pooling
from ugaar_kit.media import load_audio
from ugaar_kit.options import option
from ugaar_kit.pretrained import PretrainedBody

FEATURE_VERSION = 1
FEATURE_OPTIONS = ("sample_rate", "n_fft", "hop", "n_mels", "f_min", "f_max", "max_seconds", "normalize")
"""The options `featurize` depends on: they alone make the feature cache key."""


@dataclass(frozen=True)
class AudioCNNOptions:
    sample_rate: int = option(22050, "Sample rate (Hz) audio is resampled to.", min=4000, max=192000)
    n_fft: int = option(2048, "STFT window length in samples.", min=64, max=16384)
    hop: int = option(1024, "STFT hop in samples (1024 at 22.05 kHz = 21.5 frames/s).", min=16, max=16384)
    n_mels: int = option(80, "Mel bands (the spectrogram's height).", min=8, max=512)
    f_min: float = option(30.0, "Lowest mel band edge (Hz).", min=0.0)
    f_max: float = option(8000.0, "Highest mel band edge (Hz); at most half the sample rate.", min=100.0)
    max_seconds: float = option(30.0, "Longer audio is cut to its first max_seconds.", min=0.1, max=3600.0)
    normalize: Literal["item", "none"] = option("item", "Standardise each log-mel spectrogram (item) or not (none).")
    channels: tuple[int, ...] = option((24, 48, 96, 96), "Channels of the conv blocks (each: 2 convs, pool 2x2).")
    pooling: Pooling = option(
        "bins", "Pooling over time: bins (ordered span means), mean, max, or mean+max (both concatenated)."
    )
    bins: int = option(8, "Ordered spans of time with pooling=bins.", min=1, max=256)
    hidden: int = option(256, "Width of the head's hidden layer (0: one linear layer).", min=0, max=65536)
    dim: int = option(128, "Output width D.", min=1, max=65536)
    dropout: float = option(0.1, "Dropout in the conv blocks and the head.", min=0.0, max=0.9)
    weights: Path | None = option(None, "Start the conv body from this encoder state, run checkpoint or run folder.")
    freeze: bool = option(False, "Keep the conv body fixed (eval mode, no gradient); only the head trains.")

    def __post_init__(self) -> None:
        if not self.channels:
            raise ValueError("channels must list at least one block")
        if self.f_max > self.sample_rate / 2:
            raise ValueError(f"f_max {self.f_max} is above half the sample rate ({self.sample_rate / 2})")
        if self.f_min >= self.f_max:
            raise ValueError(f"f_min {self.f_min} must be below f_max {self.f_max}")


class AudioCNN(PretrainedBody, Encoder):
    """Audio through a log-mel spectrogram and a VGG-style CNN.

    Raw: waveform `(S,)` float32 at `sample_rate`. Features: `(n_mels, T)` float32. Batch:
    `(B, n_mels, T)` padded with 0, mask `(B, T)`. Output: `(B, dim)` float32."""

    name: ClassVar[str] = "cnn"
    modality: ClassVar[str] = "audio"
    description: ClassVar[str] = "Log-mel spectrogram, VGG-style CNN pooled over time, dense head"
    Options: ClassVar[type] = AudioCNNOptions
    extensions: ClassVar[tuple[str, ...]] = (".wav", ".flac", ".ogg", ".mp3")
    feature_options = FEATURE_OPTIONS
    feature_version = FEATURE_VERSION
    body_options: ClassVar[tuple[str, ...]] = (*FEATURE_OPTIONS, "channels")

    def __init__(self, options: AudioCNNOptions | None = None) -> None:
        super().__init__(options)
        o: AudioCNNOptions = self.options
        self.sample_rate = int(o.sample_rate)
        self._mel: nn.Module | None = None  # built on first use, not a parameter or buffer
        self.body = MaskedConvStack(o.n_mels, o.channels, dropout=o.dropout)
        self.pool = MaskedPool(o.pooling, o.bins)
        self.head = DenseHead(self.pool.out_features(self.body.out_features), o.dim, o.hidden, o.dropout)
        self.init_pretrained(o.weights, o.freeze)

    @property
    def output_dim(self) -> int:
        return int(self.options.dim)

    def load_item(self, path: Path) -> Tensor:
        """The recording as a mono waveform `(S,)` at `sample_rate` (whole: `featurize` cuts)."""
        return load_audio(path, self.sample_rate)

    def _mel_transform(self) -> nn.Module:
        if self._mel is None:
            import torchaudio

            o: AudioCNNOptions = self.options
            mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=o.sample_rate,
                n_fft=o.n_fft,
                hop_length=o.hop,
                n_mels=o.n_mels,
                f_min=o.f_min,
                f_max=o.f_max,
                power=2.0,
                pad_mode="constant",  # zeros around the clip: any length works, even below n_fft / 2
            )
            db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80.0)
            self.__dict__["_mel"] = nn.Sequential(mel, db)  # kept out of state_dict and parameters
        assert self._mel is not None
        return self._mel

    def featurize(self, raw: Any) -> Tensor:
        """Waveform `(S,)` -> log-mel `(n_mels, T)`, `T = 1 + S // hop` (S cut to max_seconds)."""
        o: AudioCNNOptions = self.options
        wave = torch.as_tensor(raw, dtype=torch.float32).reshape(-1)
        wave = wave[: int(round(o.max_seconds * o.sample_rate))]
        if wave.numel() == 0:
            raise ValueError("cannot featurize an empty waveform")
        with torch.no_grad():
            spec = self._mel_transform()(wave)
            if o.normalize == "item":
                spec = (spec - spec.mean()) / spec.std(unbiased=False).clamp_min(1e-3)
        return spec.contiguous()

    def forward(self, batch: Batch) -> Tensor:
        """`(B, n_mels, T)` with mask `(B, T)` -> `(B, dim)` float32."""
        self.require_weights()
        h, mask = self.body(batch.data.float(), batch.mask)
        return self.head(self.pool(h, mask))
