"""The `cnn` audio encoder: log-mel spectrogram -> 2-D CNN -> masked pooling over time -> head.

Features follow the audio-sheet retrieval literature (CPJKU: 92 log bands at 22.05 kHz, 20
frames/s): by default 80 mel bands (30 Hz-8 kHz) at 22.05 kHz with a 2048-sample window and a
1024-sample hop, 21.5 frames/s, so a sixteenth note at 120 bpm still spans 2-3 frames while a
median 4.75-s passage is about 100 frames. Power is taken to dB (floor 80 dB below the item's
peak) and, with `normalize=item`, standardised per item (mean 0, std 1): recordings differ in
gain, and per-item statistics keep `featurize` deterministic and cacheable. Audio longer than
`max_seconds` is cut to its first `max_seconds` (the `embed` command windows long recordings
before this, so only training passages above the limit lose their tail).

The body (`arch`) is by default `strided` (`ugaar_kit.toolkit.layers.StridedConvStack`): five 3x3 conv
blocks of 16, 32, 64, 64, 64 channels, the first four with stride 2, the remaining mel rows folded
into channels, a 1-D conv of 256 channels over time (each position then sees about 3 s), mean
and max over time concatenated and one linear layer to `dim`. It trains about 20 times faster
on the CPU than the VGG-style layout it replaced (`arch=vgg`: blocks of two convs and 2x2
pooling, pooled into 8 ordered spans of the passage, a hidden layer of 256), which remains an
option with its own defaults; docs/benchmarks.md has both rates and what each reaches.

Training items are augmented (`augment`): time stretched by up to 1 +- `stretch` (tempo differs
from song to song, while the score does not show it), and one band of mel bands and one span of
frames masked (SpecAugment).

The body may start from saved weights and be frozen (`weights`, `freeze`; see
`ugaar_kit.toolkit.pretrained`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from ugaar_kit.data.media import load_audio
from ugaar_kit.interfaces.encoder import Batch, Encoder
from ugaar_kit.interfaces.options import option
from ugaar_kit.interfaces.rows import Waveform
from ugaar_kit.toolkit.augment import log_uniform, mask_span, stretch
from ugaar_kit.toolkit.frontends import LOG_MEL_OPTIONS, LogMel, LogMelOptions
from ugaar_kit.toolkit.layers import ConvBodyOptions, CountEmbedding, DenseHead, MaskedPool, conv_body
from ugaar_kit.toolkit.onsets import OnsetRule, onset_frames
from ugaar_kit.toolkit.pretrained import PretrainedBody

FEATURE_VERSION = 1
FEATURE_OPTIONS = (*LOG_MEL_OPTIONS, "onsets")
"""The options `featurize` depends on: they alone make the feature cache key."""


@dataclass(frozen=True)
class AudioCNNOptions(ConvBodyOptions, LogMelOptions):
    stretch: float = option(
        0.15, "Training augmentation: stretch time by a random factor up to 1 +- this (0: off).", min=0.0, max=1.0
    )
    freq_mask: int = option(8, "Training augmentation: mask up to this many consecutive mel bands (0: off).", min=0)
    time_mask: float = option(
        0.1, "Training augmentation: mask up to this share of consecutive frames (0: off).", min=0.0, max=0.9
    )
    onsets: bool = option(
        False,
        "Count note onsets in the waveform (spectral flux, ugaar_kit.toolkit.onsets) and append the count to the "
        "pooled features: the cue lyrics share with a melody (one syllable a note).",
    )
    count_dim: int = option(16, "Width of the learnt onset-count embedding (onsets=true).", min=1, max=1024)

    LEGACY: ClassVar[dict[str, Any]] = {
        "arch": "vgg",
        "conv1d": 256,
        "gru": False,
        "stretch": 0.0,
        "freq_mask": 0,
        "time_mask": 0.0,
    }
    """Options of runs from before `arch` existed (their every other option is recorded)."""


class AudioCNN(Waveform, PretrainedBody, Encoder):
    """Audio through a log-mel spectrogram and a strided (or VGG-style) CNN.

    Raw: waveform `(S,)` float32 at `sample_rate`. Features: `(n_mels, T)` float32 (`(n_mels + 1,
    T)` with `onsets`: the last row counts onsets per frame). Batch: `(B, n_mels[+1], T)` padded
    with 0, mask `(B, T)`. Output: `(B, dim)` float32."""

    name: ClassVar[str] = "cnn"
    modality: ClassVar[str] = "audio"
    description: ClassVar[str] = "Log-mel spectrogram, strided CNN (or VGG-style) pooled over time, linear head"
    Options: ClassVar[type] = AudioCNNOptions
    extensions: ClassVar[tuple[str, ...]] = (".wav", ".flac", ".ogg", ".mp3")
    default: ClassVar[bool] = True  # the encoder of its modality when a run names none
    feature_options = FEATURE_OPTIONS
    feature_version = FEATURE_VERSION
    body_options: ClassVar[tuple[str, ...]] = (*LOG_MEL_OPTIONS, "arch", "channels", "conv1d", "gru")
    """What shapes the body: the onset row never reaches it, so `onsets` is not among them."""

    def __init__(self, options: AudioCNNOptions | None = None) -> None:
        super().__init__(options)
        o: AudioCNNOptions = self.options
        self.sample_rate = int(o.sample_rate)
        self.log_mel = LogMel(o)  # a plain object: not a parameter, buffer or submodule
        self.body = conv_body(o.arch, o.n_mels, o.channels, conv1d=o.conv1d, dropout=o.dropout, gru=o.gru)
        self.pool = MaskedPool(o.pooling, o.bins)
        width = self.pool.out_features(self.body.out_features)
        self.count_embedding = CountEmbedding(o.count_dim) if o.onsets else None
        if self.count_embedding is not None:
            width += self.count_embedding.out_features()
        self.head = DenseHead(width, o.dim, o.hidden, o.dropout)
        self.init_pretrained(o.weights, o.freeze)

    @property
    def output_dim(self) -> int:
        return int(self.options.dim)

    def load_item(self, path: Path) -> Tensor:
        """The recording as a mono waveform `(S,)` at `sample_rate` (whole: `featurize` cuts)."""
        return load_audio(path, self.sample_rate)

    def featurize(self, raw: Any) -> Tensor:
        """Waveform `(S,)` -> log-mel `(n_mels, T)`, `T = 1 + S // hop` (S cut to max_seconds).
        With `onsets`, one more row `(n_mels + 1, T)`: the number of onsets found in each frame
        (mostly 0 and 1), so windows and crops of the features keep their own count."""
        mel = self.log_mel(raw)
        if not self.options.onsets:
            return mel
        o: AudioCNNOptions = self.options
        wave = torch.as_tensor(raw, dtype=torch.float32).flatten()[: int(o.max_seconds * o.sample_rate)]
        rule = OnsetRule(sample_rate=int(o.sample_rate))
        row = torch.zeros(1, mel.shape[-1])
        for frame in onset_frames(wave, rule):
            row[0, min(frame * rule.hop // o.hop, mel.shape[-1] - 1)] += 1.0
        return torch.cat([mel, row])

    def augment(self, features: Tensor, generator: torch.Generator) -> Tensor:
        """A training copy of a log-mel `(n_mels, T)`: time stretched by a random factor (up to
        1 +- `stretch`, log-uniform), then one band of up to `freq_mask` mel bands and one span of
        up to `time_mask` of the frames set to 0, the standardised spectrogram's mean. With
        `onsets`, the onset row is stretched by moving each onset, never masked."""
        o: AudioCNNOptions = self.options
        x, onsets = (features[:-1], features[-1]) if o.onsets else (features, None)
        factor = log_uniform(generator, o.stretch) if o.stretch else 1.0
        if factor != 1.0:
            x = stretch(x, factor)
        if o.freq_mask:
            x = mask_span(x, 0, o.freq_mask, generator)
        if o.time_mask:
            x = mask_span(x, 1, int(o.time_mask * x.shape[-1]), generator)
        if onsets is None:
            return x
        # the onsets move with the stretch, none lost and none smeared; masks hide sound, not notes
        moved = torch.zeros(1, x.shape[-1])
        frames = torch.nonzero(onsets).flatten()
        places = (frames.float() * x.shape[-1] / onsets.shape[-1]).long().clamp(max=x.shape[-1] - 1)
        moved[0].index_add_(0, places, onsets[frames].float())
        return torch.cat([x, moved])

    def forward(self, batch: Batch) -> Tensor:
        """`(B, n_mels[+1], T)` with mask `(B, T)` -> `(B, dim)` float32."""
        self.require_weights()
        data = batch.data.float()
        if self.count_embedding is None:
            h, mask = self.body(data, batch.mask)
            return self.head(self.pool(h, mask))
        onsets = data[:, -1] if batch.mask is None else data[:, -1] * batch.mask.to(data.dtype)
        h, mask = self.body(data[:, :-1], batch.mask)
        return self.head(torch.cat([self.pool(h, mask), self.count_embedding(onsets.sum(dim=1))], dim=1))
