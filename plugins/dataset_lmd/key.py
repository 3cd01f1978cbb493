"""The key signature of a melody by the Krumhansl-Schmuckler key-finding algorithm.

The engraver spells pitches from the key signature, so a song in E-flat gets flats, not sharps.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Krumhansl-Kessler probe-tone profiles, tonic first.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# Fifths of the major key on each tonic pitch class (flats for F, Bb, Eb, Ab, Db; F# as 6).
_MAJOR_FIFTHS = (0, -5, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5)


def key_fifths(notes: Iterable[tuple[int, float]]) -> int:
    """Fifths (-7..7) of the key best matching `(midi_pitch, duration)` pairs; 0 when empty."""
    hist = np.zeros(12)
    for pitch, duration in notes:
        hist[int(pitch) % 12] += max(float(duration), 0.0)
    if hist.sum() <= 0 or np.ptp(hist) == 0:
        return 0
    best, fifths = -2.0, 0
    for tonic in range(12):
        for profile, relative_major in ((_MAJOR, tonic), (_MINOR, (tonic + 3) % 12)):
            r = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
            if r > best:
                best, fifths = r, _MAJOR_FIFTHS[relative_major]
    return fifths
