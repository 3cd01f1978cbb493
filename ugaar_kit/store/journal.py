"""The write-ahead journal of an embedding store: append-only files of checksummed records.

A writer commits each batch of finished files as one record, fsynced before it goes on, so a
crash loses at most the batch in flight. A record is

    b"UGJ1" | header length (u32) | body length (u64) | crc32 of header + body (u32) | header | body

with a JSON header and a raw little-endian float32 body (the embeddings): no pickle. A crash can
leave a torn record at the end of a file; reading stops at the first record that is incomplete
or fails its checksum, so what comes back is exactly what was committed.

Record kinds (header `kind`):
    open    first record: store_id, run_id, session (the file's name)
    files   modality, dim, files: [{source, size, mtime, ids, start, end, line}] + embeddings body
    errors  errors: [[path, message], ...]
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.infra.atomic import fsync_dir

MAGIC = b"UGJ1"
HEAD = struct.Struct("<4sIQI")
SUFFIX = ".wal"
_READ = 1 << 20


@dataclass(frozen=True)
class Record:
    """A committed record: its header and where its body lies in the file."""

    header: dict[str, Any]
    offset: int
    length: int


class JournalWriter:
    """Appends records to a new journal file, each fsynced before `append` returns."""

    def __init__(self, path: Path, opening: Mapping[str, Any]) -> None:
        self.path = Path(path)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self._fh = os.fdopen(fd, "ab")
        self.records = 0
        self.append({"kind": "open", **opening})
        fsync_dir(self.path.parent)

    def append(self, header: Mapping[str, Any], body: bytes = b"") -> None:
        head = json.dumps(dict(header), separators=(",", ":")).encode("utf-8")
        crc = zlib.crc32(body, zlib.crc32(head))
        self._fh.write(HEAD.pack(MAGIC, len(head), len(body), crc) + head)
        self._fh.write(body)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.records += 1

    def append_files(self, modality: str, dim: int, files: list[dict[str, Any]], embeddings: np.ndarray) -> None:
        """A `files` record: per-file metadata and their `(n, dim)` embeddings, rows in order."""
        body = np.ascontiguousarray(embeddings, dtype="<f4").tobytes()
        self.append({"kind": "files", "modality": modality, "dim": int(dim), "files": files}, body)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()


def scan(path: Path) -> list[Record]:
    """The committed records of a journal file, stopping at a torn or corrupt tail."""
    records: list[Record] = []
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        pos = 0
        while pos + HEAD.size <= size:
            fh.seek(pos)
            magic, head_len, body_len, crc = HEAD.unpack(fh.read(HEAD.size))
            end = pos + HEAD.size + head_len + body_len
            if magic != MAGIC or end > size:
                break
            head = fh.read(head_len)
            check = zlib.crc32(head)
            left = body_len
            while left:
                chunk = fh.read(min(left, _READ))
                check = zlib.crc32(chunk, check)
                left -= len(chunk)
            if check != crc:
                break
            try:
                header = json.loads(head)
            except ValueError:
                break
            records.append(Record(header, pos + HEAD.size + head_len, body_len))
            pos = end
    return records


def read_body(path: Path, record: Record) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(record.offset)
        return fh.read(record.length)


def read_embeddings(path: Path, record: Record) -> np.ndarray:
    """The `(n, dim)` float32 embeddings of a `files` record."""
    dim = int(record.header["dim"])
    data = np.frombuffer(read_body(path, record), dtype="<f4")
    return data.reshape(-1, dim).astype(np.float32, copy=False)
