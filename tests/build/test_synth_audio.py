"""Synthesis: onsets detected in every WAV match the manifest within 30 ms; pitch follows notes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

HOP = 32
WIN = 512


def spectral_flux_onsets(audio: np.ndarray, sr: int) -> np.ndarray:
    """Onset times (s): peaks of the half-wave rectified magnitude spectral flux (frames of 23 ms,
    hop 1.5 ms), each the largest within 25 ms and above 20% of the largest."""
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(audio, (WIN // 2, WIN)), WIN)[::HOP]
    mag = np.abs(np.fft.rfft(frames * np.hanning(WIN), axis=1))
    flux = np.maximum(np.diff(mag, axis=0), 0).sum(axis=1)
    flux = np.concatenate([[0.0], flux])
    reach = int(0.025 * sr / HOP)
    peaks = [
        i
        for i in range(1, len(flux) - 1)
        if flux[i] > 0.2 * flux.max() and flux[i] == flux[max(0, i - reach) : i + reach + 1].max()
    ]
    return np.array(peaks) * HOP / sr


def pitch_of(segment: np.ndarray, sr: int) -> float:
    """MIDI pitch of the strongest spectral peak (the fundamental of these tones)."""
    spec = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n=1 << 17))
    freq = np.argmax(spec[1:]) + 1
    return 69 + 12 * np.log2(freq * sr / (1 << 17) / 440)


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_wav_format_and_onsets(built: tuple[Path, object]) -> None:
    out, _ = built
    compared = 0
    for row in _rows(out):
        audio, sr = sf.read(out / row["audio"], dtype="float32")
        info = sf.info(out / row["audio"])
        assert sr == 22050 and audio.ndim == 1 and info.subtype == "PCM_16"
        expected = np.array([on for _, on, _ in row["notes"]])
        detected = spectral_flux_onsets(audio, sr)
        assert len(detected) == len(expected), (row["id"], detected, expected)
        assert np.abs(detected - expected).max() < 0.030, row["id"]
        last = max(on + d for _, on, d in row["notes"])
        assert last < len(audio) / sr < last + 0.3
        compared += len(expected)
    assert compared > 100


def test_pitch_follows_notes(built: tuple[Path, object]) -> None:
    out, _ = built
    checked = skipped = 0
    for row in _rows(out):
        audio, sr = sf.read(out / row["audio"], dtype="float32")
        for pitch, onset, duration in row["notes"]:
            start, stop = onset + 0.06, onset + min(duration, 0.4)
            if stop - start < 0.05:
                skipped += 1
                continue
            assert abs(pitch_of(audio[int(start * sr) : int(stop * sr)], sr) - pitch) < 0.5, (row["id"], pitch)
            checked += 1
    assert checked > 0.6 * (checked + skipped)


def test_audio_version_is_faster_and_brighter(built: tuple[Path, object]) -> None:
    out, _ = built
    row = _rows(out)[0]
    (version,) = row["audio_versions"]
    main, sr = sf.read(out / row["audio"], dtype="float32")
    fast, _ = sf.read(out / version, dtype="float32")
    expected = np.array([on for _, on, _ in row["notes"]]) / 1.25
    assert np.abs(spectral_flux_onsets(fast, sr) - expected).max() < 0.030

    def centroid(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x))
        return float((spec * np.arange(len(spec))).sum() / spec.sum()) * sr / (2 * (len(spec) - 1))

    assert centroid(fast) > 1.3 * centroid(main)
