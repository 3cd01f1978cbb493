"""The `flat` audio encoder: the audio `cnn` encoder's log-mel front end (`ugaar_kit.toolkit.frontends`,
same options and defaults), resized along time to `frames` steps (bilinear, antialiased, so a
long passage is averaged rather than sampled) and flattened to `n_mels * frames` values.

Nothing is learnt: it gives fixed features for an objective that fits in closed form
(`--objective cca`). Resizing aligns a passage's start, middle and end with the score's, but
any shift within the passage moves every value, which is why linear CCA on it stays weak.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor

from ugaar_kit.data.media import load_audio
from ugaar_kit.interfaces.options import option
from ugaar_kit.interfaces.rows import Waveform
from ugaar_kit.toolkit.frontends import LogMel, LogMelOptions, resize_2d

from .flat_encoder import FlatEncoder


@dataclass(frozen=True)
class FlatAudioOptions(LogMelOptions):
    frames: int = option(64, "Time steps the log-mel spectrogram is resized to (output: n_mels x frames).", min=1)


class FlatAudio(Waveform, FlatEncoder):
    """Audio as a time-resized log-mel spectrogram, flattened.

    Raw: waveform `(S,)` float32 at `sample_rate`. Features: `(n_mels * frames,)` float32, mel
    band major. Batch: `(B, n_mels * frames)`, no mask. Output: the same, float32."""

    name: ClassVar[str] = "flat"
    modality: ClassVar[str] = "audio"
    description: ClassVar[str] = "Log-mel spectrogram resized to a fixed number of frames, flattened (no parameters)"
    Options: ClassVar[type] = FlatAudioOptions
    extensions: ClassVar[tuple[str, ...]] = (".wav", ".flac", ".ogg", ".mp3")

    def __init__(self, options: FlatAudioOptions | None = None) -> None:
        super().__init__(options)
        o: FlatAudioOptions = self.options
        self.sample_rate = int(o.sample_rate)
        self.log_mel = LogMel(o)  # a plain object: not a parameter, buffer or submodule

    @property
    def output_dim(self) -> int:
        return int(self.options.n_mels) * int(self.options.frames)

    def load_item(self, path: Path) -> Tensor:
        """The recording as a mono waveform `(S,)` at `sample_rate` (whole: `featurize` cuts)."""
        return load_audio(path, self.sample_rate)

    def featurize(self, raw: Any) -> Tensor:
        """Waveform `(S,)` -> log-mel `(n_mels, T)` -> `(n_mels, frames)` -> `(n_mels * frames,)`."""
        o: FlatAudioOptions = self.options
        spec = self.log_mel(raw)
        return resize_2d(spec, int(o.n_mels), int(o.frames)).reshape(-1).contiguous()
