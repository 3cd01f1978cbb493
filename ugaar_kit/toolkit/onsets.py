"""Counting note onsets in a recording: the second no-learning baseline of the lyrics directions.

The syllable-count baseline ranks by `|note count - syllable count|` with the note count taken
from the manifest: it knows the melody. This one counts onsets in the audio itself, so a model
that "learnt to count" can be told apart from one that learnt more: spectral flux (the positive
change of a log-mel spectrogram, summed over bands), peaks above a threshold relative to the
clip's own flux, at least `min_gap` seconds apart. On the builder's synthesized melodies (piano
timbre) it finds the note count of 98.7% of LMD passages exactly; an isolated note's release
click is sometimes counted as one more, and on recordings it will do worse.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ugaar_kit.data.media import load_audio
from ugaar_kit.toolkit.frontends import LogMel, LogMelOptions


@dataclass(frozen=True)
class OnsetRule:
    sample_rate: int = 22050
    hop: int = 256
    """About 11.6 ms at 22.05 kHz: fine enough for sixteenth notes at 160 bpm."""
    threshold: float = 0.2
    """A peak counts when its flux is above this share of the clip's highest flux after its first
    frame. Measured on 300 LMD validation passages (the builder's piano timbre): the note count
    exactly for 98.7% at 0.2, 97% at 0.15, 91% at 0.3 (repeated notes missed). Slow-attack
    timbres (`soft`, `clarinet`) are counted less reliably."""
    floor: float = 0.05
    """Nor below this share of the highest flux, first frame included."""
    min_gap: float = 0.06
    """Seconds between two counted onsets."""


@functools.cache
def _front_end(rule: OnsetRule) -> LogMel:
    """One log-mel front end per rule (its filterbank is built once, not per file)."""
    return LogMel(
        LogMelOptions(sample_rate=rule.sample_rate, n_fft=1024, hop=rule.hop, max_seconds=3600.0, normalize="none")
    )


def onset_flux(wave: Tensor, rule: OnsetRule = OnsetRule()) -> Tensor:
    """Spectral flux `(T,)` of a mono waveform: positive log-mel change summed over bands; the
    first frame counts its rise from silence."""
    spec = _front_end(rule)(wave)  # (n_mels, T) in dB, floored 80 dB below the peak
    padded = torch.cat([torch.full_like(spec[:, :1], float(spec.min())), spec], dim=1)
    return padded.diff(dim=1).clamp_min(0).sum(dim=0)


def onset_frames(wave: Tensor, rule: OnsetRule = OnsetRule()) -> list[int]:
    """The frames (at `rule.hop`) of the onsets in a mono waveform at `rule.sample_rate`, in order
    (see the module docstring)."""
    flux = onset_flux(wave, rule)
    if flux.numel() == 0 or float(flux.max()) <= 0:
        return []
    # the first frame rises from silence, far above any later attack over a sounding note: the
    # level is set by the later frames, so re-attacks count, but never below `floor` of the peak
    later = float(flux[1:].max()) if flux.numel() > 1 else 0.0
    level = max(rule.threshold * later, rule.floor * float(flux.max()))
    left = torch.cat([flux.new_full((1,), -1.0), flux[:-1]])
    right = torch.cat([flux[1:], flux.new_full((1,), -1.0)])
    peaks = torch.nonzero((flux >= level) & (flux > left) & (flux >= right)).flatten().tolist()
    gap = rule.min_gap * rule.sample_rate / rule.hop
    frames: list[int] = []
    for p in peaks:
        if not frames or p - frames[-1] >= gap:
            frames.append(int(p))
    return frames


def count_onsets(wave: Tensor, rule: OnsetRule = OnsetRule()) -> int:
    """Onsets in a mono waveform at `rule.sample_rate` (see the module docstring)."""
    return len(onset_frames(wave, rule))


def count_file_onsets(paths: Sequence[Path], rule: OnsetRule = OnsetRule()) -> list[int]:
    """Onsets in each audio file (raises the media module's InputError for a bad file)."""
    return [count_onsets(load_audio(Path(p), rule.sample_rate), rule) for p in paths]
