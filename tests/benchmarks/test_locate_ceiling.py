"""benchmarks/locate_ceiling.py places an excerpt from its notes alone: by the offsets where they
recur exactly, and by each window's notes matched to the passages, laid on the score's timing."""

from __future__ import annotations

from pathlib import Path

import locate_ceiling
import pytest

from ugaar_kit.interfaces.dataset import WholeSong


def _song() -> tuple[WholeSong, dict[str, dict]]:
    """Four 5-s passages of ten notes each; the second and the fourth are the same line."""
    lines = [[60, 62, 64, 65, 67] * 2, [70, 69, 67, 65, 64] * 2, [55, 57, 59, 60, 62] * 2, [70, 69, 67, 65, 64] * 2]
    passages, rows = [], {}
    for i, pitches in enumerate(lines):
        pid = f"s-{i:03d}"
        passages.append({"id": pid, "start": 5.0 * i, "end": 5.0 * (i + 1)})
        rows[pid] = {"notes": [[p, 0.5 * k, 0.5] for k, p in enumerate(pitches)]}
    song = WholeSong("s", "s", "test", Path("s.flac"), 20.0, (), [], passages)
    return song, rows


def test_an_excerpt_of_unrepeated_notes_is_placed_by_them() -> None:
    song, rows = _song()
    notes = locate_ceiling.song_notes(song, rows)
    assert len(notes) == 40 and notes[10] == pytest.approx((5.0, 70, 0.5))
    # 10 s from 2.5 s: the end of the first line and the second; its notes recur nowhere else
    assert locate_ceiling.by_repeats(song, notes, 2.5) == 1.0
    assert locate_ceiling.by_windows(song, rows, notes, 2.5)


def test_an_excerpt_whose_notes_recur_is_right_at_the_share_of_its_recurrences() -> None:
    song, rows = _song()
    notes = locate_ceiling.song_notes(song, rows)
    # 5 s from 5 s: the second line, whose notes are the fourth's too; one of the two places is right
    assert locate_ceiling.by_repeats(song, notes, 5.0, seconds=5.0) == 0.5
