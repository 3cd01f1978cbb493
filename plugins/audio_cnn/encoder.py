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
from typing import Any, ClassVar

from torch import Tensor

from ugaar_kit.encoder import Batch, Encoder
from ugaar_kit.frontends import LOG_MEL_OPTIONS, LogMel, LogMelOptions
from ugaar_kit.layers import DenseHead, MaskedConvStack, MaskedPool, Pooling
from ugaar_kit.media import load_audio
from ugaar_kit.options import option
from ugaar_kit.pretrained import PretrainedBody

FEATURE_VERSION = 1
FEATURE_OPTIONS = LOG_MEL_OPTIONS
"""The options `featurize` depends on: they alone make the feature cache key."""


@dataclass(frozen=True)
class AudioCNNOptions(LogMelOptions):
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
        super().__post_init__()
        if not self.channels:
            raise ValueError("channels must list at least one block")


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
        self.log_mel = LogMel(o)  # a plain object: not a parameter, buffer or submodule
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

    def featurize(self, raw: Any) -> Tensor:
        """Waveform `(S,)` -> log-mel `(n_mels, T)`, `T = 1 + S // hop` (S cut to max_seconds)."""
        return self.log_mel(raw)

    def forward(self, batch: Batch) -> Tensor:
        """`(B, n_mels, T)` with mask `(B, T)` -> `(B, dim)` float32."""
        self.require_weights()
        h, mask = self.body(batch.data.float(), batch.mask)
        return self.head(self.pool(h, mask))
