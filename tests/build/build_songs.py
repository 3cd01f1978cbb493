"""Shared constants of the builder tests (a module of its own: several test folders have a
conftest.py, so `from conftest import` would be ambiguous)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from ugaar_kit.interfaces.dataset import Skipped
from ugaar_kit.interfaces.score import Song

SONG_IDS = ("000203a04a64ad57329a058f11e235cb", "001784858d9e607c0db054e68cab8c6c", "004ab2763c2055cee741cb2aa9724def")
PASSAGES_PER_SONG = 6


def trimmed(songs: Iterator[Song | Skipped], n: int = PASSAGES_PER_SONG) -> Iterator[Song | Skipped]:
    """Each song cut to its first `n` passages (keeps the tests fast)."""
    for s in songs:
        yield dataclasses.replace(s, passages=s.passages[:n]) if isinstance(s, Song) else s
