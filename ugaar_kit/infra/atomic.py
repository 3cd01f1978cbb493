"""Atomic file writes: a file is either its old self or its whole new self, never half written.

Every writer of a file another process or a later run reads (run folders, checkpoints, stores,
indexes, datasets, plots) goes through here: the new content goes to a temporary file in the
target's folder (the same file system, so the rename is atomic), is flushed and fsynced, then
renamed over the target; on any error the temporary file is removed and the target is left as
it was.

    with atomic_path(path) as tmp:      # for writers that take a file name (h5py, savefig)
        write_something(tmp)
    with atomic_open(path, "w") as fh:  # for writers that take a file object
        json.dump(data, fh)
    write_bytes(path, data); write_text(path, text)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def temp_path(path: Path, suffix: str = "") -> Path:
    """A name beside `path` that no other writer uses (hidden, named after it, the process and a
    random part, ending `.tmp<suffix>`). The file is not created: its writer creates it, with
    the permissions the umask gives any new file (mkstemp's would be owner-only)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{suffix}")


def fsync_dir(folder: Path) -> None:
    """fsync a folder so a rename in it survives a crash (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(tmp: Path, path: Path, durable: bool = True) -> None:
    """Rename `tmp` over `path`; `durable`: fsync the file first and the folder after, so the
    new content survives a crash of the machine, not only of the process."""
    if durable:
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    os.replace(tmp, path)
    if durable:
        fsync_dir(Path(path).parent)


@contextmanager
def atomic_path(path: Path, suffix: str = "", durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on a clean exit it replaces `path`, on an error it
    is removed. `suffix` ends the temporary name, for writers that read the format from it
    (`.png`). The folder is created if missing. `durable=False` skips the fsyncs (a dataset
    build's thousands of media files, which a crashed build writes again)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path, suffix)
    try:
        yield tmp
        commit(tmp, path, durable)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_open(path: Path, mode: str = "w", encoding: str | None = "utf-8", durable: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside `path` for writing (`"w"` or `"wb"`); it replaces `path`
    when the block ends without an error."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole file: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path, durable=durable) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh


def write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    with atomic_open(path, "wb", durable=durable) as fh:
        fh.write(data)


def write_text(path: Path, text: str, durable: bool = True) -> None:
    with atomic_open(path, "w", durable=durable) as fh:
        fh.write(text)
