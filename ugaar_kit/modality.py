"""The modalities of a song: the built-in ones and their order, and direction names."""

from __future__ import annotations

from collections.abc import Iterable

MODALITIES: tuple[str, ...] = ("audio", "sheet", "lyrics")
"""The three built-in modalities; a plugin may bring an encoder for a new modality name."""

DIRECTION_SEPARATOR = "->"


def direction(query: str, target: str) -> str:
    """The name of a retrieval direction, e.g. `audio->sheet`."""
    return f"{query}{DIRECTION_SEPARATOR}{target}"


def canonical_order(modalities: Iterable[str]) -> tuple[str, ...]:
    """Built-in modalities in their usual order (audio, sheet, lyrics), then others sorted."""
    mods = set(modalities)
    return tuple(m for m in MODALITIES if m in mods) + tuple(sorted(mods - set(MODALITIES)))
