"""The modalities of a song, and the file extensions the built-in encoders read for each."""

from __future__ import annotations

MODALITIES: tuple[str, ...] = ("audio", "sheet", "lyrics")
"""The three built-in modalities; a plugin may bring an encoder for a new modality name."""

DEFAULT_ENCODERS: dict[str, str] = {"audio": "cnn", "sheet": "cnn", "lyrics": "doc2vec"}
"""The encoder a needed modality gets when the user names none."""

DIRECTION_SEPARATOR = "->"


def direction(query: str, target: str) -> str:
    """The name of a retrieval direction, e.g. `audio->sheet`."""
    return f"{query}{DIRECTION_SEPARATOR}{target}"
