"""Train/valid/test splits by song: versions of one song (LMD keeps several MIDI files of some
songs under different ids) are grouped and always land in the same split.

Two songs are versions of one another when at least `share` of the lyric lines of the shorter
one (normalized lyrics, lines of 3 syllables or more) also occur in the other, or when their
normalized titles are equal and they share a line. Groups are assigned to splits greedily in a
seeded random order so the passage counts follow the fractions.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from ugaar_kit.interfaces.dataset import SPLITS

VERSION_SHARE = 0.3
"""Share of lyric lines two files of one song have in common (see FINDINGS: 156 of 1,500)."""


@dataclass(frozen=True)
class SongPrint:
    """What the split knows of a song: its id, normalized title, lyric lines, passage count."""

    id: str
    title: str | None
    lines: frozenset[str]
    passages: int


def normalize_title(title: str | None) -> str:
    """Lower-case letters and digits of a title, version marks like `(2)`, `.1`, ` v2` dropped."""
    if not title:
        return ""
    t = title.lower()
    t = re.sub(r"(\(\d+\)|\.\d+|\bv\d+\b|\bversion\b)", " ", t)
    return re.sub(r"[^0-9a-z]+", "", t)


class _Union:
    def __init__(self, items: Sequence[str]) -> None:
        self.parent = {x: x for x in items}

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def version_groups(songs: Sequence[SongPrint], share: float = VERSION_SHARE) -> dict[str, str]:
    """song id -> group id (the smallest song id of its group of versions)."""
    uf = _Union([s.id for s in songs])
    by_line: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(songs):
        for line in s.lines:
            by_line[line].append(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for holders in by_line.values():
        for a_pos, a in enumerate(holders):
            for b in holders[a_pos + 1 :]:
                shared[(a, b)] += 1
    for (a, b), count in shared.items():
        sa, sb = songs[a], songs[b]
        smaller = min(len(sa.lines), len(sb.lines))
        same_title = bool(normalize_title(sa.title)) and normalize_title(sa.title) == normalize_title(sb.title)
        if count >= share * smaller or same_title:
            uf.union(sa.id, sb.id)
    return {s.id: uf.find(s.id) for s in songs}


def assign_splits(
    songs: Sequence[SongPrint], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[dict[str, str], dict[str, str]]:
    """(song id -> split, song id -> version group id). Deterministic for a seed: groups are
    shuffled by the seed, then each goes to the split furthest below its share of passages."""
    if len(fractions) != len(SPLITS) or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"split fractions must be three non-negative numbers, got {tuple(fractions)}")
    total = sum(fractions)
    targets = [f / total for f in fractions]
    groups = version_groups(songs)
    size: dict[str, int] = defaultdict(int)
    for s in songs:
        size[groups[s.id]] += max(1, s.passages)
    order = sorted(size)
    random.Random(seed).shuffle(order)
    assigned = [0] * len(SPLITS)
    split_of_group: dict[str, str] = {}
    for g in order:
        done = sum(assigned) + size[g]
        k = max(range(len(SPLITS)), key=lambda i: (targets[i] * done - assigned[i], -i))
        assigned[k] += size[g]
        split_of_group[g] = SPLITS[k]
    return {s.id: split_of_group[groups[s.id]] for s in songs}, groups
