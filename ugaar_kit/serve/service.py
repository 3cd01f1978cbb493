"""What the web server answers with: one store and the run that made it, loaded once, asked
through the same functions as `search` and `identify` (`ugaar_kit.retrieval.queries`).

Requests are answered one at a time under a lock (one model, one HDF5 file); a query takes
tens of milliseconds on a CPU, so twenty waiting ones are still answered within a second or two.
A store rewritten while the server runs (`embed` adding files, `store merge`) is reopened at
the next request.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ugaar_kit.errors import InputError
from ugaar_kit.serve.files import Refused, read_line, resolve_source
from ugaar_kit.store.reader import Store


class Service:
    """The store at `store_path`, the run at `run_path` (loaded on `device`), the dataset at
    `data` (its songs are the pieces `identify` ranks; with songs.jsonl, `locate` too), and
    `roots` that replace the store's recorded ones when given."""

    def __init__(
        self,
        store_path: Path,
        run_path: Path,
        registry: Any,
        *,
        device: str | None = None,
        data: Path | None = None,
        roots: Sequence[Path] = (),
    ) -> None:
        from ugaar_kit.inference.embedding import extension_routes
        from ugaar_kit.inference.embedding.score import ScorePages
        from ugaar_kit.retrieval.identify import dataset_passages, dataset_pieces
        from ugaar_kit.retrieval.queries import load_run

        self.lock = threading.RLock()
        self.store_path = Path(store_path)
        self.store = Store(self.store_path)
        self._stamp = self._stat()
        try:
            self.run = load_run(self.store, Path(run_path), registry, device)
        except BaseException:
            self.store.close()
            raise
        self.routes = extension_routes(self.run)
        self._pages = ScorePages(self.run)  # the pages `locate` reads anew, each embedded once
        self.data = Path(data) if data is not None else None
        self.pieces = dataset_pieces(self.data) if self.data is not None else None
        self.songs = self.data is not None and (self.data / "songs.jsonl").is_file()
        self.passages = dataset_passages(self.data) if self.data is not None else {}
        self.override_roots = [{"label": "", "path": str(Path(r).resolve())} for r in roots]
        self._ids: dict[str, dict[str, int]] = {}
        self._files: dict[str, dict[tuple[str, int], str]] = {}
        self._sizes: dict[str, Any] = {}

    # -- the store -----------------------------------------------------------------------------
    def _stat(self) -> tuple[int, int]:
        st = self.store_path.stat()
        return st.st_ino, st.st_mtime_ns

    def fresh(self) -> Store:
        """The store, reopened when a writer has replaced the file since it was opened."""
        try:
            stamp = self._stat()
        except OSError:
            return self.store  # removed meanwhile: keep answering from the open version
        if stamp != self._stamp:
            self.store.close()
            self.store = Store(self.store_path)
            self._stamp = stamp
            self._ids.clear()
            self._files.clear()
            self._sizes.clear()
        return self.store

    @property
    def roots(self) -> list[dict[str, str]]:
        return self.override_roots or self.store.roots

    def info(self) -> dict[str, Any]:
        """What the page needs to build its form."""
        with self.lock:
            store = self.fresh()
            text = [m for m in self.run.modalities if getattr(self.run.encoders[m], "text_input", False)]
            return {
                "store": str(self.store_path),
                "run_id": store.run_id,
                "modalities": list(store.modalities),
                "rows": {m: store.rows(m) for m in store.modalities},
                "extensions": dict(sorted(self.routes.items())),
                "text_modalities": text,
                "identify": len(store.modalities) > 1,
                "locate": bool(self.songs),
                "window": store.settings.get("window"),
                "hop": store.settings.get("hop"),
            }

    # -- items ---------------------------------------------------------------------------------
    def find(self, item_id: str) -> tuple[str, int] | None:
        """(modality, row) of a stored id, or None."""
        store = self.fresh()
        for m in store.modalities:
            if m not in self._ids:
                self._ids[m] = {s: i for i, s in enumerate(store.ids(m).tolist())}
            row = self._ids[m].get(item_id)
            if row is not None:
                return m, row
        return None

    def item(self, item_id: str) -> dict[str, Any] | None:
        """A stored item as the page shows it (None when the store has no such id): its row's
        columns, `media` (the URL of its file, when the file can be served) and `text` (a
        lyrics line, or the start of a text file)."""
        with self.lock:
            where = self.find(item_id)
            if where is None:
                return None
            modality, row = where
            meta = self.store.rows_at(modality, [row])[0]
        start, end, line = meta["start"], meta["end"], int(meta["line"])
        out: dict[str, Any] = {
            "id": item_id,
            "modality": modality,
            "source": meta["source"],
            "size": int(meta["size"]),
            "start": None if math.isnan(start) else float(start),
            "end": None if math.isnan(end) else float(end),
            "line": line or None,
            "media": None,
            "text": None,
        }
        try:
            path = resolve_source(str(meta["source"]), self.roots)
        except Refused as exc:
            out["unavailable"] = str(exc)
            return out
        if path.suffix.lower() == ".txt":
            out["text"] = read_line(path, line)
        else:
            out["media"] = "/media/" + _quote(item_id)
        return out

    def media_path(self, item_id: str) -> Path:
        """The file of a stored item; InputError (`Refused`'s reason) when it cannot be served."""
        with self.lock:
            where = self.find(item_id)
            if where is None:
                raise InputError(item_id, "no such item in the store")
            modality, row = where
            source = str(self.store.rows_at(modality, [row])[0]["source"])
        try:
            return resolve_source(source, self.roots)
        except Refused as exc:
            raise InputError(item_id, str(exc)) from None

    def page_window_png(self, item_id: str, path: Path) -> bytes | None:
        """A page window's pixels as a PNG when `item_id` is one (`FILE#system=N&x=X0-X1`, as
        `embed` cuts a page) and `path`, its page, still holds that window; else None (the
        whole file is served)."""
        from ugaar_kit.interfaces.rows import parse_page_window

        window = parse_page_window(item_id)
        if window is None:
            return None
        from ugaar_kit.build.engrave import png_bytes
        from ugaar_kit.data.media import eight_bit, load_image
        from ugaar_kit.data.staves import windows_of_page

        system, x0, x1 = window
        for w in windows_of_page(load_image(path).numpy()):
            if (w.number, w.staff.x0 + w.x0, w.staff.x0 + w.x1) == (system, x0, x1):
                return png_bytes(eight_bit(w.pixels))
        return None

    def own_item(self, name: str, size: int, modality: str) -> str | None:
        """The stored file of `modality` with this file name and size (the query's own item
        when it is in the store), or None. The (name, size) table is read once per store."""
        with self.lock:
            store = self.fresh()
            if modality not in store.modalities:
                return None
            if modality not in self._files:
                meta = store.metadata(modality)
                table: dict[tuple[str, int], str] = {}
                for source, n in zip(meta["source"].tolist(), meta["size"].tolist()):
                    table.setdefault((source.rsplit("/", 1)[-1], int(n)), source)
                self._files[modality] = table
            return self._files[modality].get((name, size))

    def partners(self, source: str | None) -> list[str]:
        """The other files of the dataset passage `source` belongs to (its score for its
        recording, ...), as stored sources; [] without --data or when it is not a passage's."""
        if source is None:
            return []
        for key in (source, source.split("/", 1)[-1]):
            files = self.passages.get(key)
            if files is not None:
                prefix = source[: len(source) - len(key)]
                return [prefix + f for f in files if f != key]
        return []

    # -- queries -------------------------------------------------------------------------------
    def search(self, queries: Sequence[Any], target: Sequence[str] | None, k: int) -> Any:
        """`search_queries` of the store under the lock: a `SearchAnswer`."""
        from ugaar_kit.retrieval.queries import search_queries

        with self.lock:
            return search_queries(self.run, self.fresh(), queries, target=target or None, top=k)

    def identify(
        self, paths: Sequence[Path], texts: Sequence[str], k: int, aggregate: str, top: int = 5
    ) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
        """`identify --json`'s object for one query (a file, or lyrics lines), and where the
        query sits in the best piece (`location`, with a dataset of whole songs and an audio or
        lyrics query)."""
        from ugaar_kit.data.staves import PAGE_HOP, PAGE_WINDOW
        from ugaar_kit.retrieval.queries import identify_job, query_jobs, recording_cuts

        with self.lock:
            store = self.fresh()
            label, modality, embed = query_jobs(self.run, store, list(paths), list(texts), PAGE_WINDOW, PAGE_HOP)[0]
            job = (label, modality, functools.cache(embed))  # embedded once for identify and locate
            cuts = recording_cuts(self.run, label, modality)  # and cut once
            payload, skipped = identify_job(
                store,
                job,
                None,
                self.pieces,
                self._sizes,
                k=k,
                aggregate=aggregate,
                top=top,
                data=self.data,
                cuts=cuts,
            )
            if payload is not None and payload["pieces"] and self.songs:
                payload["location"] = self._locate(store, job, payload, cuts)
        return payload, skipped

    def _locate(self, store: Store, job: Any, payload: dict[str, Any], cuts: Any = None) -> dict[str, Any] | None:
        import numpy as np

        from ugaar_kit.interfaces.modality import SHEET
        from ugaar_kit.retrieval.locate import locate

        label, modality, embed = job
        if modality == SHEET or SHEET not in store.modalities or self.data is None:
            return None
        embedded = [e for e in embed() if e.vector is not None]
        timed = all(e.start is not None and e.end is not None for e in embedded)
        spans = [(float(e.start), float(e.end)) for e in embedded] if timed else None
        try:
            found = locate(
                store,
                np.stack([e.vector for e in embedded]),
                payload["pieces"][0]["piece"],
                self.data,
                SHEET,
                spans=spans,
                cuts=cuts,
                pages=self._pages,
            )
        except InputError as exc:
            return {"error": str(exc)}
        return found.as_dict()

    def close(self) -> None:
        with self.lock:
            self.store.close()


def _quote(item_id: str) -> str:
    from urllib.parse import quote

    return quote(item_id, safe="")
