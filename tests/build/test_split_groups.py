"""Splits by song: versions of a song (same lyrics, another id) always share a split."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

from ugaar_kit.build.builder import BuildOptions, plan
from ugaar_kit.build.split import SongPrint, assign_splits, version_groups


def _songs(lmd_dir: Path, n: int = 20):
    source = LmdLyricsSource()
    files = source.files([lmd_dir / "Sentence_Parsing"])[:n]
    return [s for f in files for s in source.read(f)]


def test_versions_of_a_song_land_together(lmd_dir: Path, tmp_path: Path) -> None:
    songs = _songs(lmd_dir)
    a, b = songs[0], songs[7]
    copy_a = dataclasses.replace(a, id="zz-version-of-a", title=None)  # same lyrics, other id
    # another file of b: the same title, half of the lines
    copy_b = dataclasses.replace(b, id="aa-version-of-b", passages=b.passages[::2])
    songs += [copy_a, copy_b]
    seen: dict[str, set[str]] = {}
    for seed in range(20):
        rows = [p.row for p in plan(songs, tmp_path, BuildOptions(seed=seed))]
        split = {r["song_id"]: r["split"] for r in rows}
        assert split[a.id] == split[copy_a.id] and split[b.id] == split[copy_b.id]
        song_key = {r["song_id"]: r["song"] for r in rows}
        assert song_key[a.id] == song_key[copy_a.id] and song_key[b.id] == song_key[copy_b.id]
        assert len({r["split"] for r in rows if r["song"] == song_key[a.id]}) == 1
        for sid, name in split.items():
            seen.setdefault(sid, set()).add(name)
        counts = Counter(r["split"] for r in rows)
        assert 0.65 < counts["train"] / len(rows) < 0.9 and counts["valid"] and counts["test"]
    assert sum(len(v) > 1 for v in seen.values()) > len(seen) // 2  # the seed moves songs between splits
    again = [p.row["split"] for p in plan(songs, tmp_path, BuildOptions(seed=3))]
    assert again == [p.row["split"] for p in plan(songs, tmp_path, BuildOptions(seed=3))]


def test_unrelated_songs_are_not_grouped() -> None:
    prints = [
        SongPrint("s1", "Firework", frozenset({"a b c", "d e f", "g h i"}), 3),
        SongPrint("s2", "Other", frozenset({"a b c", "x y z", "u v w", "p q r"}), 4),  # 1 of 3 shared: < 30%? no, 33%
        SongPrint("s3", "Third", frozenset({"k l m", "n o p", "q r s", "t u v"}), 4),
    ]
    groups = version_groups(prints)
    assert groups["s1"] == groups["s2"] and groups["s3"] == "s3"
    prints[1] = dataclasses.replace(prints[1], lines=frozenset({"a b c", *(f"l{i} x y" for i in range(10))}))
    prints[0] = dataclasses.replace(prints[0], lines=frozenset({"a b c", *(f"m{i} x y" for i in range(10))}))
    assert len(set(version_groups(prints).values())) == 3  # one shared line of 11: not a version
    split, _ = assign_splits(prints, (1, 0, 0))
    assert set(split.values()) == {"train"}


def test_repeats_inside_a_song_share_a_group(lmd_dir: Path, tmp_path: Path) -> None:
    (song,) = LmdLyricsSource().read(lmd_dir / "Sentence_Parsing" / "001784858d9e607c0db054e68cab8c6c.npy")
    rows = [p.row for p in plan([song], tmp_path, BuildOptions())]
    assert len(rows) == len(song.passages)  # repeats are kept, marked by their group
    by_group: dict[str, list[dict]] = {}
    for r in rows:
        by_group.setdefault(r["group"], []).append(r)
    repeated = [g for g in by_group.values() if len(g) > 1]
    assert repeated
    for members in repeated:
        assert members[0]["group"] == members[0]["id"]
        assert len({(r["lyrics_raw"], str(r["syllables"])) for r in members}) == 1
    assert len({r["group"] for r in rows if r["group"] == r["id"]}) == len(by_group)
