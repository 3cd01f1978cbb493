"""Additive synthesis of a passage: each note a sum of harmonics under an attack-decay-release
envelope, placed at its exact sample position (so onsets in the WAV match the manifest).

A `Timbre` sets the harmonic amplitudes and the envelope; extra audio versions of a passage use
other timbres and tempo factors.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ugaar_kit.interfaces.score import Passage


@dataclass(frozen=True)
class Timbre:
    """Harmonic amplitudes `rolloff ** -k` for k = 1..harmonics (odd ones only if `odd_only`),
    an attack, a decay to `sustain` (fraction of the peak) with time constant `decay`, a release."""

    harmonics: int = 8
    rolloff: float = 1.6
    odd_only: bool = False
    attack: float = 0.01
    decay: float = 0.25
    sustain: float = 0.35
    release: float = 0.05


TIMBRES: dict[str, Timbre] = {
    "piano": Timbre(),
    "soft": Timbre(harmonics=4, rolloff=3.0, attack=0.02, decay=0.4, sustain=0.5),
    "bright": Timbre(harmonics=14, rolloff=1.1, attack=0.005, decay=0.15, sustain=0.25),
    "clarinet": Timbre(harmonics=11, rolloff=1.3, odd_only=True, attack=0.02, decay=0.5, sustain=0.8),
}
"""Named timbres; `piano` is the default (a struck, decaying tone)."""


def note_times(passage: Passage, tempo_bpm: float, tempo_factor: float = 1.0) -> list[tuple[int, float, float]]:
    """(pitch, onset_s, duration_s) of each note: the source's seconds where it has them, else the
    beats at `tempo_bpm` (or the passage's own tempo); divided by `tempo_factor` (2 = twice as fast)."""
    seconds = all(n.onset_s is not None and n.duration_s is not None for n in passage.notes)
    spb = 60.0 / (passage.tempo_bpm or tempo_bpm)
    origin = passage.notes[0].onset_s if seconds else passage.notes[0].onset
    out = []
    for n in passage.notes:
        if seconds:
            onset, duration = float(n.onset_s) - float(origin or 0.0), float(n.duration_s)  # type: ignore[arg-type]
        else:
            onset, duration = (n.onset - float(origin or 0.0)) * spb, n.duration * spb
        out.append((n.pitch, onset / tempo_factor, duration / tempo_factor))
    return out


@functools.lru_cache(maxsize=256)
def _tone(pitch: int, n_samples: int, sample_rate: int, timbre: Timbre) -> np.ndarray:
    """One note, float32 (n_samples + release,), peak about 1; read-only. A song repeats its
    notes (same pitch, same length), so tones are kept (256, a few MB): 60% of the notes of LMD
    songs are made once and reused."""
    freq = 440.0 * 2.0 ** ((pitch - 69) / 12)
    release = round(timbre.release * sample_rate)
    total = n_samples + release
    t = np.arange(total, dtype=np.float64) / sample_rate
    wave = np.zeros(total)
    norm = 0.0
    for k in range(1, timbre.harmonics + 1):
        if k * freq >= sample_rate / 2 or (timbre.odd_only and k % 2 == 0):
            continue
        amp = timbre.rolloff ** -(k - 1)
        wave += amp * np.sin(2 * math.pi * k * freq * t)
        norm += amp
    attack = max(1, round(timbre.attack * sample_rate))
    env = timbre.sustain + (1 - timbre.sustain) * np.exp(-np.maximum(t - timbre.attack, 0) / timbre.decay)
    env[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False)[: min(attack, total)]
    if release:
        env[n_samples:] *= np.linspace(1.0, 0.0, total - n_samples)
    tone = (wave * env / max(norm, 1e-9)).astype(np.float32)
    tone.setflags(write=False)
    return tone


def synthesize(
    notes: list[tuple[int, float, float]], sample_rate: int = 22050, timbre: Timbre = TIMBRES["piano"]
) -> np.ndarray:
    """Mono float32 audio (samples,) in [-1, 1] of `(pitch, onset_s, duration_s)` notes; each note
    starts at sample `round(onset_s * sample_rate)`; 0.1 s of silence after the last release."""
    if not notes:
        raise ValueError("no notes to synthesize")
    end = max(on + dur for _, on, dur in notes) + timbre.release + 0.1
    out = np.zeros(round(end * sample_rate) + 1, dtype=np.float32)
    for pitch, onset, duration in notes:
        start = round(onset * sample_rate)
        tone = _tone(pitch, max(1, round(duration * sample_rate)), sample_rate, timbre)
        out[start : start + tone.size] += tone[: out.size - start]
    peak = float(np.abs(out).max())
    return out * (0.8 / peak) if peak > 0 else out


def pcm16(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Float audio as the 16-bit samples libsndfile's WAV writer makes of it (through its raw PCM
    writer, which converts alike), so a WAV and a FLAC of a passage hold the same samples:
    libsndfile's FLAC writer converts floats its own way, one step apart on half of them."""
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, audio, sample_rate, subtype="PCM_16", format="RAW", endian="LITTLE")
    return np.frombuffer(buf.getvalue(), dtype="<i2")


def audio_bytes(audio: np.ndarray, sample_rate: int, audio_format: str = "wav") -> bytes:
    """Float audio (samples,) as a mono 16-bit file: PCM WAV, or FLAC (lossless: it decodes to
    the samples of the WAV)."""
    import io

    import soundfile as sf

    buf = io.BytesIO()
    samples = audio if audio_format == "wav" else pcm16(audio, sample_rate)
    sf.write(buf, samples, sample_rate, subtype="PCM_16", format=audio_format.upper())
    return buf.getvalue()


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Float audio (samples,) as a mono 16-bit PCM WAV file."""
    return audio_bytes(audio, sample_rate, "wav")
