"""The stored files a web page may read: a row's `source`, found again under the roots the store
records (`Store.roots`), never outside them.

A path reaches the filesystem only through `resolve_source`: the source of a row the store holds
(never text from a request), joined to a recorded root, then resolved (symbolic links followed)
and refused unless the real path lies inside the real root. `..`, absolute sources, encoded
slashes and links out of a root all end there.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ugaar_kit.errors import Refused

__all__ = ["MEDIA_TYPES", "Refused", "media_type", "read_line", "resolve_source"]

MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".txt": "text/plain; charset=utf-8",
}
"""Content types of the files the page shows; anything else is served as its guessed type."""


def media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives, or one relative
        return False


def resolve_source(source: str, roots: Sequence[dict[str, str]]) -> Path:
    """The file a stored `source` names under one of `roots` (`{"label", "path"}`, the latest
    embedded first); `Refused` when no root holds it as a regular file."""
    parts = PurePosixPath(source.split("#", 1)[0]).parts
    if not parts or source.startswith("/") or "\\" in source or any(p in ("..", ".", "") for p in parts):
        raise Refused(f"{source}: not a path inside the store's roots")
    if not roots:
        raise Refused(f"{source}: the store records no roots (embedded before 0.3); pass --root")
    for root in roots:
        base = os.path.realpath(root.get("path", ""))
        label = root.get("label", "")
        if os.path.isfile(base):  # a file given to embed: its source is its name
            candidates = [base] if not label and parts == (os.path.basename(base),) else []
            real_root = os.path.dirname(base)
        else:
            rest = parts[1:] if label else parts
            candidates = [os.path.join(base, *rest)] if (not label or parts[0] == label) and rest else []
            real_root = base
        for candidate in candidates:
            real = os.path.realpath(candidate)
            if real != base and not _inside(real, real_root):
                raise Refused(f"{source}: a link out of its root")
            if os.path.isfile(real):
                return Path(real)
    raise Refused(f"{source}: not found under the store's roots")


def read_line(path: Path, line: int, max_chars: int = 2000) -> str:
    """Line `line` (1-based) of a text file, or its first `max_chars` characters when `line` is 0."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        if line <= 0:
            return fh.read(max_chars)
        for i, text in enumerate(fh, start=1):
            if i == line:
                return text.rstrip("\n")[:max_chars]
    return ""
