"""Test items for the encoder tests: short melodies rendered both ways, as real items are built:
synthesized audio (WAV, additive tones written with soundfile) and engraved notation (MusicXML
-> verovio SVG -> resvg PNG)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
_STEPS = ["C", "C", "D", "D", "E", "F", "F", "G", "G", "A", "A", "B"]
_ALTER = [0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 0]
_TYPES = {1: "eighth", 2: "quarter", 4: "half"}

Melody = list[tuple[int, int]]
"""(MIDI pitch, duration in eighth notes) per note."""


def random_melodies(n: int, seed: int = 0) -> list[Melody]:
    """`n` different melodies of 3-12 notes in the treble range (seeded)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        count = int(rng.integers(3, 13))
        pitch = int(rng.integers(62, 74))
        notes = []
        for _ in range(count):
            notes.append((pitch, int(rng.choice([1, 2, 2, 4]))))
            pitch = int(np.clip(pitch + rng.integers(-4, 5), 57, 81))
        out.append(notes)
    return out


def synthesize(melody: Melody, bpm: float = 120.0, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Additive synthesis (3 harmonics, 10 ms attack, exponential decay): float32 `(S,)`."""
    eighth = 30.0 / bpm
    total = sum(d for _, d in melody) * eighth
    out = np.zeros(int(round(total * rate)) + 1, dtype=np.float64)
    start = 0.0
    for pitch, dur in melody:
        length = int(round(dur * eighth * rate))
        t = np.arange(length) / rate
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))
        env = np.minimum(1.0, t / 0.01) * np.exp(-3.0 * t)
        a = int(round(start * rate))
        out[a : a + length] += 0.2 * tone * env
        start += dur * eighth
    return out.astype(np.float32)


def musicxml(melody: Melody) -> str:
    """The melody as one measure of MusicXML on a treble staff (eighth = 1 division)."""
    notes = []
    for pitch, dur in melody:
        step, alter, octave = _STEPS[pitch % 12], _ALTER[pitch % 12], pitch // 12 - 1
        alt = f"<alter>{alter}</alter>" if alter else ""
        acc = "<accidental>sharp</accidental>" if alter else ""
        notes.append(
            f"<note><pitch><step>{step}</step>{alt}<octave>{octave}</octave></pitch>"
            f"<duration>{dur}</duration><type>{_TYPES[dur]}</type>{acc}</note>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><score-partwise version="3.1"><part-list>'
        '<score-part id="P1"><part-name></part-name></score-part></part-list><part id="P1">'
        '<measure number="1"><attributes><divisions>2</divisions><clef><sign>G</sign><line>2</line></clef>'
        f"</attributes>{''.join(notes)}</measure></part></score-partwise>"
    )


_toolkit = None


def engrave_png(melody: Melody) -> bytes:
    """The melody engraved by verovio and rasterised by resvg: PNG bytes, black on white."""
    global _toolkit
    import svg2png_py
    import verovio

    if _toolkit is None:
        verovio.enableLog(verovio.LOG_OFF)
        _toolkit = verovio.toolkit(False)
        _toolkit.setResourcePath(os.path.join(os.path.dirname(verovio.__file__), "data"))
        _toolkit.setOptions(
            {
                "breaks": "none",
                "adjustPageHeight": True,
                "adjustPageWidth": True,
                "header": "none",
                "footer": "none",
                "scale": 40,
            }
        )
    assert _toolkit.loadData(musicxml(melody))
    png = bytes(svg2png_py.svg_to_png_cached(_toolkit.renderToSVG(1), bg_color=(255, 255, 255, 255)))
    return crop_to_ink(png)


def crop_to_ink(png: bytes, margin: int = 2) -> bytes:
    """The PNG cropped to its ink plus `margin` pixels, as the dataset builder crops passages."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    ink = np.asarray(image) < 200
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    box = (
        max(0, int(cols[0]) - margin),
        max(0, int(rows[0]) - margin),
        min(image.width, int(cols[-1]) + 1 + margin),
        min(image.height, int(rows[-1]) + 1 + margin),
    )
    return png_of(np.asarray(image.crop(box)))


def write_wav(path: Path, melody: Melody) -> Path:
    import soundfile as sf

    sf.write(str(path), synthesize(melody), SAMPLE_RATE)
    return path


def write_png(path: Path, melody: Melody) -> Path:
    path.write_bytes(engrave_png(melody))
    return path


def png_of(array: np.ndarray, mode: str = "L") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()
