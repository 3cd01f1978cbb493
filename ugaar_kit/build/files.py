"""Writing dataset files atomically (temp file + rename), so an interrupted build never leaves a
half-written file under a final name, and names safe for any file system."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ugaar_kit.infra.atomic import write_bytes

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """`text` as a file name: letters, digits, `._-` kept; if anything changed, a short hash of
    the original is appended so two ids never share a name."""
    name = _UNSAFE.sub("_", text).strip("._") or "x"
    if name != text:
        name = f"{name[:80]}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return name


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and a rename (no fsync: a
    build writes thousands of these and an interrupted one writes them again)."""
    write_bytes(path, data, durable=False)
