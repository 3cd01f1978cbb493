"""Crash-safe writing of an embedding store: a journal, folded into the store by atomic replace.

An HDF5 file is not crash-safe: a process killed while h5py writes can leave it unreadable. So
the store file is never modified in place:

1. Each batch of finished files is committed to a journal, `EMB.h5.journal/<session>.wal`
   (checksummed records, fsynced; see `journal.py`). A crash loses at most the batch in flight.
2. Folding copies the store's rows to a temporary file in the journal folder, appends the
   journal's new records, writes the unit-length copy exact search memory-maps, fsyncs it and
   renames it over the store (atomic on POSIX). The store records
   how many records of each journal file it holds (attribute `journal`), so a crash between
   the rename and the removal of the journal folds nothing twice.
3. A new writer first folds whatever an interrupted writer left (recovery).

So a SIGKILL at any moment leaves either the old or the new store, both readable, and the
journal holds everything committed since. The store is folded when the writer closes and
whenever the journal holds as many rows as the store (at least `FOLD_MIN_ROWS`): the copies
add up to about twice the final size. One writer at a time: `<journal>/.lock` holds a POSIX
record lock (`lockf`), which forked children do not inherit.

A file re-embedded (`--refresh`) replaces all rows of its source; a file embedded after an
error loses its error, and a later error of a file replaces an earlier one.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ugaar_kit.errors import InputError
from ugaar_kit.infra.atomic import commit
from ugaar_kit.store import tables
from ugaar_kit.store.format import (
    FORMAT,
    FORMAT_VERSION,
    ROOTS,
    journal_dir,
    json_attr,
    merge_roots,
    modality_names,
    open_h5,
    open_store,
    text_attr,
)
from ugaar_kit.store.journal import SUFFIX, JournalWriter, Record, read_embeddings, scan
from ugaar_kit.version import __version__

FOLD_MIN_ROWS = 200_000
"""Rows the journal may hold before a fold during a run, at least (see the module doc)."""

LOCK_FILE = ".lock"
_HELD: set[str] = set()
"""Journal folders this process holds: record locks do not exclude their own process."""
_FOLD_TMP = "fold.tmp"
_CREATE_TMP = "create.tmp"


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_store(path: Path, tmp: Path, run_id: str, config_json: str, settings: Mapping[str, Any]) -> None:
    """Write an empty store at `path` atomically (through `tmp`, same filesystem)."""
    with h5py.File(tmp, "w") as f:
        write_header(f, run_id, config_json, settings)
        tables.write_errors(f, [])
    commit(tmp, path)


def write_header(f: h5py.File, run_id: str, config_json: str, settings: Mapping[str, Any]) -> None:
    """The root attributes of a new store (a fresh `store_id`, revision 0, empty journal map)."""
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["tool_version"] = __version__
    f.attrs["run_id"] = run_id
    f.attrs["config"] = config_json
    f.attrs["store_id"] = uuid.uuid4().hex
    f.attrs["revision"] = 0
    f.attrs["created"] = now()
    f.attrs["updated"] = now()
    f.attrs["settings"] = json.dumps(dict(settings), sort_keys=True)
    f.attrs["journal"] = "{}"


class StoreWriter:
    """Appends embedded files to a store through a journal. Use as a context manager; closing
    folds everything committed (also after an exception: what was committed is good)."""

    def __init__(
        self,
        path: str | Path,
        *,
        run_id: str,
        config_json: str = "{}",
        settings: Mapping[str, Any] | None = None,
        fold_rows: int | None = None,
        roots: Sequence[Mapping[str, str]] = (),
    ) -> None:
        self.path = Path(path)
        self.roots = [dict(r) for r in roots]
        """The embedded folders and files (`{"label", "path"}`), recorded at each fold."""
        self.dir = journal_dir(self.path)
        self.run_id = str(run_id)
        self.settings = dict(settings or {})
        self.fold_rows = fold_rows
        self.notes: list[str] = []
        """Messages for the user (recovered rows, dropped stale journals)."""
        self._lock_fd: int | None = None
        self._lock_key = ""
        self._wal: JournalWriter | None = None
        self._journal_rows = 0
        self.store_rows = 0
        if self.path.is_dir():
            raise InputError(self.path, "is a folder; --out must name an .h5 file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            for name in (_FOLD_TMP, _CREATE_TMP):
                (self.dir / name).unlink(missing_ok=True)
            if not self.path.exists():
                new_store(self.path, self.dir / _CREATE_TMP, self.run_id, config_json, self.settings)
            self.store_id = self._check_store()
            recovered = self.fold()
            if recovered:
                self.notes.append(f"recovered {recovered} rows an interrupted run had committed")
            session = f"{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
            opening = {"store_id": self.store_id, "run_id": self.run_id, "session": session, "created": now()}
            self._wal = JournalWriter(self.dir / f"{session}{SUFFIX}", opening)
        except BaseException:
            try:
                self._remove_journal_dir()  # only when empty: a refused store leaves nothing behind
            except OSError:
                pass
            self._unlock()
            raise

    # -- the lock ------------------------------------------------------------------------------
    def _lock(self) -> None:
        """A POSIX record lock (`lockf`) on `<journal>/.lock`: held by this process only, so a
        forked loader worker that outlives a killed `embed` does not keep the store locked (a
        `flock` is shared with forked children)."""
        import fcntl

        key = str(self.dir.resolve())
        if key in _HELD:
            raise InputError(self.path, "another process is writing this store (its journal folder is locked)")
        for _ in range(5):
            self.dir.mkdir(exist_ok=True)
            lock = self.dir / LOCK_FILE
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # the folder was removed by a writer closing just now
                continue
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise InputError(
                    self.path, "another process is writing this store (its journal folder is locked)"
                ) from None
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a lock file another writer removed while we waited
                self._lock_fd = fd
                self._lock_key = key
                _HELD.add(key)
                return
            os.close(fd)
        raise InputError(self.dir, "could not lock the journal folder")

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
            _HELD.discard(self._lock_key)

    def _remove_journal_dir(self) -> None:
        """Remove the journal folder when nothing but the lock file is left in it (still locked:
        the lock file goes first, so a writer that opened it meanwhile sees it gone and retries)."""
        if any(p.name != LOCK_FILE for p in self.dir.iterdir()):
            return
        (self.dir / LOCK_FILE).unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:
            pass

    # -- the store -----------------------------------------------------------------------------
    def _check_store(self) -> str:
        with open_store(self.path) as f:
            have = text_attr(f.attrs.get("run_id", ""))
            if have != self.run_id:
                raise InputError(
                    self.path, f"made by run {have}, not by this run ({self.run_id}); embed into another --out file"
                )
            stored = json_attr(f.attrs, "settings", {})
            if stored != self.settings:
                raise InputError(
                    self.path,
                    f"embedded with {_describe(stored)}, not {_describe(self.settings)}; use those or another --out",
                )
            self.store_rows = sum(int(f[m]["embeddings"].shape[0]) for m in modality_names(f))
            return text_attr(f.attrs["store_id"])

    def done_files(self) -> dict[tuple[str, str], tuple[int, float]]:
        """(modality, source) -> (size, mtime) of every file the store holds."""
        done: dict[tuple[str, str], tuple[int, float]] = {}
        with open_store(self.path) as f:
            for m in modality_names(f):
                g = f[m]
                src = tables.sources(g)
                size = g["size"][:]
                mtime = g["mtime"][:]
                for s, n, t in zip(src.tolist(), size.tolist(), mtime.tolist()):
                    done.setdefault((m, s), (int(n), float(t)))
        return done

    # -- committing ----------------------------------------------------------------------------
    def add_files(self, modality: str, files: Sequence[tables.FileRows]) -> None:
        """Commit finished files (all rows of each) to the journal; fold when it is large."""
        if not files or self._wal is None:
            return
        dim = int(files[0].embeddings.shape[1])
        meta = [
            {
                "source": f.source,
                "size": f.size,
                "mtime": f.mtime,
                "ids": f.ids,
                "start": f.start,
                "end": f.end,
                "line": f.line,
            }
            for f in files
        ]
        self._wal.append_files(modality, dim, meta, np.concatenate([f.embeddings for f in files]))
        self._journal_rows += sum(len(f) for f in files)
        limit = self.fold_rows if self.fold_rows is not None else max(FOLD_MIN_ROWS, self.store_rows)
        if self._journal_rows >= limit:
            self.fold()

    def add_errors(self, errors: Sequence[tuple[str, str]]) -> None:
        """Commit skipped files with their reasons to the journal."""
        if errors and self._wal is not None:
            self._wal.append({"kind": "errors", "errors": [list(e) for e in errors]})

    def fold(self) -> int:
        """Fold every journal record the store does not hold yet into it; the rows added."""
        active = self._wal.path if self._wal is not None else None
        with open_store(self.path) as f:
            store_id = text_attr(f.attrs["store_id"])
            held: dict[str, int] = json_attr(f.attrs, "journal", {})
        plans: list[tuple[Path, str, list[Record], int]] = []
        finished: list[Path] = []
        for p in sorted(self.dir.glob(f"*{SUFFIX}")):
            recs = scan(p)
            head = recs[0].header if recs else {}
            if head.get("kind") != "open" or head.get("store_id") != store_id:
                if p != active:
                    if recs:
                        self.notes.append(
                            f"dropped journal {p.name}: it belongs to another store (removed or replaced)"
                        )
                    finished.append(p)
                continue
            session = str(head["session"])
            new = recs[max(1, int(held.get(session, 1))) :]
            plans.append((p, session, new, len(recs)))
            if p != active:
                finished.append(p)
        added = 0
        if any(new for _, _, new, _ in plans) and self._changes(plans):
            journal = {s: n for s, n in held.items() if (self.dir / f"{s}{SUFFIX}").exists()}
            journal.update({s: total for _, s, _, total in plans})
            added = self._write_folded(plans, journal)
        for p in finished:
            p.unlink(missing_ok=True)
        self._journal_rows = 0
        return added

    def _changes(self, plans: list[tuple[Path, str, list[Record], int]]) -> bool:
        """False when the new records hold no rows and only errors the store already lists."""
        headers = [rec.header for _, _, new, _ in plans for rec in new]
        if any(h.get("kind") == "files" for h in headers):
            return True
        with open_store(self.path) as f:
            listed = dict(tables.read_errors(f))
        return any(listed.get(str(p)) != str(m) for h in headers if h.get("kind") == "errors" for p, m in h["errors"])

    def _write_folded(self, plans: list[tuple[Path, str, list[Record], int]], journal: dict[str, int]) -> int:
        # The last occurrence of each (modality, source) wins; errors and successes in order.
        last: dict[tuple[str, str], tuple[int, int, int]] = {}
        events: dict[str, str | None] = {}
        for pi, (_, _, new, _) in enumerate(plans):
            for ri, rec in enumerate(new):
                h = rec.header
                if h.get("kind") == "files":
                    for fi, fl in enumerate(h["files"]):
                        last[(h["modality"], fl["source"])] = (pi, ri, fi)
                        events[fl["source"]] = None
                elif h.get("kind") == "errors":
                    for path, message in h["errors"]:
                        events[str(path)] = str(message)
        tmp = self.dir / _FOLD_TMP
        tmp.unlink(missing_ok=True)
        with open_store(self.path) as old:
            # A fresh file every time (never a copy appended to): `unit` is rewritten whole, and a
            # copied file would keep the space of the old one.
            f = open_h5(tmp, "w")
            tables.copy_attrs(old, f)
            for m in modality_names(old):
                fresh = [s for (mod, s) in last if mod == m]
                replaced = tables.member(tables.sources(old[m]), fresh) if fresh else None
                g = tables.create_modality(f, m, int(old[m].attrs["dim"]))
                tables.copy_rows(old[m], g, ~replaced if replaced is not None and replaced.any() else None)
            tables.write_errors(f, tables.read_errors(old))
        added = 0
        pending: dict[tuple[str, int], list[tables.FileRows]] = {}
        pending_rows: dict[tuple[str, int], int] = {}

        def flush(key: tuple[str, int]) -> None:
            files = pending.pop(key, [])
            pending_rows.pop(key, None)
            if files:
                tables.append_files(tables.modality_group(f, key[0], key[1]), files)

        with f:
            for pi, (path, _, new, _) in enumerate(plans):
                for ri, rec in enumerate(new):
                    h = rec.header
                    if h.get("kind") != "files":
                        continue
                    emb = read_embeddings(path, rec)
                    key = (str(h["modality"]), int(h["dim"]))
                    batch = pending.setdefault(key, [])
                    row = 0
                    for fi, fl in enumerate(h["files"]):
                        n = len(fl["ids"])
                        if last[(h["modality"], fl["source"])] == (pi, ri, fi):
                            batch.append(
                                tables.FileRows(
                                    fl["source"],
                                    int(fl["size"]),
                                    float(fl["mtime"]),
                                    list(fl["ids"]),
                                    emb[row : row + n],
                                    list(fl["start"]),
                                    list(fl["end"]),
                                    list(fl["line"]),
                                )
                            )
                            added += n
                            pending_rows[key] = pending_rows.get(key, 0) + n
                        row += n
                    if pending_rows.get(key, 0) >= tables.COPY_ROWS:
                        flush(key)
            for key in list(pending):
                flush(key)
            errors = [(p, m) for p, m in tables.read_errors(f) if p not in events]
            errors += [(p, m) for p, m in events.items() if m is not None]
            tables.write_errors(f, errors)
            revision = int(f.attrs.get("revision", 0)) + 1
            for m in modality_names(f):
                tables.write_unit(f[m], revision)
            f.attrs["revision"] = revision
            f.attrs["journal"] = json.dumps(journal, sort_keys=True)
            f.attrs[ROOTS] = json.dumps(merge_roots(json_attr(f.attrs, ROOTS, []), self.roots))
            f.attrs["updated"] = now()
            f.attrs["tool_version"] = __version__
            self.store_rows = sum(int(f[m]["embeddings"].shape[0]) for m in modality_names(f))
        commit(tmp, self.path)
        return added

    # -- closing -------------------------------------------------------------------------------
    def close(self) -> None:
        """Fold everything committed, remove the journal, release the lock."""
        try:
            if self._wal is not None:
                self._wal.close()
                self._wal = None
                self.fold()
            try:
                self._remove_journal_dir()
            except OSError:
                pass
        finally:
            self._unlock()

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _describe(settings: Mapping[str, Any]) -> str:
    if not settings:
        return "no recorded settings"
    return ", ".join(f"{k} {v}" for k, v in sorted(settings.items()))
