"""The modalities of a song: the built-in ones and their order, and direction names."""

from __future__ import annotations

from collections.abc import Iterable

BUILTIN_INPUTS: dict[str, str] = {"audio": "file", "sheet": "file", "lyrics": "text"}
"""The built-in modalities in their order, each with its input: a file path or the text itself.
A dataset folder holds them as top-level keys of its rows (format 1); audio and sheet render
the melody a row's `notes` hold. Any other modality is a plugin's (`Item.inputs`)."""
MODALITIES: tuple[str, ...] = tuple(BUILTIN_INPUTS)
"""The three built-in modalities; a plugin may bring an encoder for a new modality name."""
AUDIO, SHEET, LYRICS = MODALITIES

DIRECTION_SEPARATOR = "->"


def direction(query: str, target: str) -> str:
    """The name of a retrieval direction, e.g. `audio->sheet`."""
    return f"{query}{DIRECTION_SEPARATOR}{target}"


def canonical_order(modalities: Iterable[str]) -> tuple[str, ...]:
    """Built-in modalities in their usual order (audio, sheet, lyrics), then others sorted."""
    mods = set(modalities)
    return tuple(m for m in MODALITIES if m in mods) + tuple(sorted(mods - set(MODALITIES)))
