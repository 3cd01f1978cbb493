"""The `lmd-lyrics` source: restricted unpickling, the reading of the arrays, bad files skipped."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from build_songs import SONG_IDS, trimmed
from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource
from ugaar_kit_plugins.dataset_lmd.unpickle import load_array

from ugaar_kit.build.builder import BuildOptions, build_dataset
from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import Skipped


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - what an attacker's pickle would do
        return (os.system, (f"touch {self.marker}",))


def test_unpickler_refuses_code_execution(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.npy"
    arr = np.empty((1, 3), dtype=object)
    arr[0, 0], arr[0, 1], arr[0, 2] = [_Evil(marker)], [], []
    np.save(bad, arr, allow_pickle=True)
    with pytest.raises(InputError, match=r"evil\.npy: unsafe pickle: refused global posix\.system"):
        load_array(bad)
    assert not marker.exists()


def test_unpickler_refuses_other_numpy_callables(tmp_path: Path) -> None:
    bad = tmp_path / "scalar.npy"
    arr = np.empty((1, 3), dtype=object)
    arr[0, 0], arr[0, 1], arr[0, 2] = [np.float64(1.5)], [], []  # pickled via numpy.core.multiarray.scalar
    np.save(bad, arr, allow_pickle=True)
    with pytest.raises(InputError, match=r"refused global numpy\._?core\.multiarray\.scalar"):
        load_array(bad)


def test_restricted_load_equals_numpy_load(lmd_files: Path) -> None:
    for sid in SONG_IDS:
        path = lmd_files / f"{sid}.npy"
        ours, theirs = load_array(path), np.load(path, allow_pickle=True)  # trusted sample file
        assert ours.shape == theirs.shape == (1, 3)
        for k in range(3):
            assert ours[0][k] == theirs[0][k]


def test_passages_follow_the_arrays(lmd_files: Path) -> None:
    path = lmd_files / f"{SONG_IDS[0]}.npy"
    raw = load_array(path)[0]
    (song,) = LmdLyricsSource().read(path)
    assert song.title == "Stranded" and song.meta["lmd_midi_path"] == "S/Stranded.mid"
    assert len(song.passages) == len(raw[2]) == 47
    line = song.passages[2]
    secs, beats, syls = raw[0][2], raw[1][2], raw[2][2]
    assert [s.text for s in line.syllables] == syls
    assert [n.pitch for n in line.notes] == [round(69 + 12 * math.log2(r[2] / 440)) for r in secs]
    assert [n.pitch for n in line.notes] == [int(b[0]) for b in beats]
    # seconds: cumulated inter-onset times from the line's first note; beats: duration + rest
    assert [n.onset_s for n in line.notes] == pytest.approx(np.cumsum([0] + [r[0] for r in secs[1:]]).tolist())
    assert [n.duration for n in line.notes] == [b[1] for b in beats]
    assert line.notes[1].onset == beats[0][1] + beats[1][2]
    assert song.passages[0].key_fifths == -2  # B-flat major: the melody's B-flats get a flat


def test_truncated_file_is_skipped_and_named(lmd_files: Path, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    good = lmd_files / f"{SONG_IDS[1]}.npy"
    shutil.copy(good, folder / "good.npy")
    data = good.read_bytes()
    (folder / "cut.npy").write_bytes(data[: len(data) // 2])
    (folder / "empty.npy").write_bytes(b"")
    found = list(LmdLyricsSource().songs([folder]))
    skipped = {Path(s.path).name: s.reason for s in found if isinstance(s, Skipped)}
    assert set(skipped) == {"cut.npy", "empty.npy"}
    assert "truncated or malformed" in skipped["cut.npy"]
    summary = build_dataset(trimmed(iter(found), 2), tmp_path / "out", BuildOptions(workers=1), progress=False)
    assert summary.passages == 2 and len(summary.skipped) == 2
    assert "cut.npy: truncated or malformed pickle" in str(summary)
