"""Uploaded queries: capped in size and in duration, saved under a temporary folder by a name the
server makes (only the extension is taken from the client's file name).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ugaar_kit.errors import UploadRejected

__all__ = ["Limits", "UploadRejected", "check_duration", "display_name", "save_upload", "suffix_of"]

CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one request may bring."""

    max_bytes: int = 50 * 1024 * 1024
    """An upload's size."""
    max_seconds: float = 600.0
    """A recording's duration."""
    max_text: int = 10_000
    """Characters of typed lyrics."""
    max_k: int = 100
    """Results per target modality."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def display_name(filename: str | None) -> str:
    """The client's file name as shown back: its last part, printable characters only."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable())[:200]
    return name or "upload"


def suffix_of(filename: str | None, accepted: set[str]) -> str:
    """The upload's extension, lowercased, when the run reads it; UploadRejected otherwise."""
    suffix = Path(display_name(filename)).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) or suffix not in accepted:
        known = ", ".join(sorted(accepted))
        raise UploadRejected(f"{display_name(filename)}: cannot use a '{suffix or 'no extension'}' file (use {known})")
    return suffix


async def save_upload(upload: Any, folder: Path, suffix: str, limits: Limits) -> tuple[Path, int]:
    """Copy an uploaded file into `folder` as `query<suffix>`, stopping past `limits.max_bytes`;
    its path and size."""
    target = folder / f"query{suffix}"
    size = 0
    with open(target, "wb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > limits.max_bytes:
                raise UploadRejected(
                    f"{display_name(upload.filename)}: larger than the server's limit of {limits.max_bytes // 1024 // 1024} MB",
                    413,
                )
            out.write(chunk)
    if size == 0:
        raise UploadRejected(f"{display_name(upload.filename)}: an empty file")
    return target, size


def check_duration(path: Path, label: str, limits: Limits) -> None:
    """UploadRejected when a recording is longer than `limits.max_seconds` or cannot be read."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad upload
        raise UploadRejected(f"{label}: not a readable recording ({str(exc).splitlines()[0][:200]})") from None
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    if seconds > limits.max_seconds:
        raise UploadRejected(
            f"{label}: {seconds:.0f} s long; the server takes recordings of up to {limits.max_seconds:.0f} s", 413
        )
