"""Reading one lyrics passage from a `.txt` file (UTF-8), normalized like the dataset's lyrics."""

from __future__ import annotations

from pathlib import Path

from ugaar_kit.errors import InputError
from ugaar_kit.lyrics_text import normalize_lyrics

MAX_BYTES = 1 << 20
"""A lyrics passage is a line or a verse; a larger file is refused rather than embedded."""


def read_lyrics(path: Path) -> str:
    """The normalized syllables of the file at `path`; InputError when missing, binary or empty."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file" if not path.exists() else "not a file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InputError(path, f"{size} bytes is too large for one lyrics passage (at most {MAX_BYTES})")
    data = path.read_bytes()
    if b"\0" in data:
        raise InputError(path, "binary file, expected UTF-8 lyrics text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    lyrics = normalize_lyrics(text)
    if not lyrics:
        raise InputError(path, "no lyrics in the file (empty or no words)")
    return lyrics
