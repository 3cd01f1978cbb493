"""Answering queries against a store with the run that made it: what `search`, `identify`,
`locate` and `serve` share, so the terminal and the web page give the same answers.

    loaded = load_run(store, run_folder, registry, device)      # the store's own run, checked
    answer = search_queries(loaded, store, queries, top=10)     # `search --json`'s objects
    jobs = query_jobs(loaded, store, paths, texts, 6.0, 3.0)    # identify's vectors, per query
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.interfaces.modality import AUDIO, LYRICS, SHEET

PREFERRED_TARGETS = {AUDIO: (SHEET, LYRICS), SHEET: (AUDIO, LYRICS), LYRICS: (AUDIO, SHEET)}
"""The modality a query of each modality is identified against when no target is given (the
first the store has; any other modality: the store's first other one)."""


def load_run(store: Any, run: Path, registry: Any, device: str | None) -> Any:
    """The run that made `store`, on `device` ("auto": CUDA when there is one); InputError when
    the store was made by another run (its embeddings are in another space)."""
    from ugaar_kit.inference.run import Run
    from ugaar_kit.infra.distributed import pick_device

    loaded = Run.load(run, registry=registry, device=pick_device(device or "auto"))
    if store.run_id != loaded.run_id:
        raise InputError(
            store.path,
            f"made by run {store.run_id}, not by {run} ({loaded.run_id}): its embeddings are in another space",
        )
    return loaded


def search_targets(store: Any, query_modality: str, target: Sequence[str] | None) -> list[str]:
    """The modalities a query of `query_modality` searches: `target`, or every other one."""
    targets = list(target or [m for m in store.modalities if m != query_modality])
    unknown = [m for m in targets if m not in store.modalities]
    if unknown:
        raise OptionError(
            f"--target {unknown[0]}: the store has no such embeddings (it has: {', '.join(store.modalities) or 'none'})"
        )
    if not targets:
        raise OptionError(
            f"the store holds only {query_modality} embeddings; pass --target {query_modality} to search them"
        )
    return targets


@dataclass
class SearchAnswer:
    """What a search of several queries gave: one JSON-ready object per embedded query (what
    `search --json` prints a line each), the `Hit`s behind them, the queries that could not be
    used (label, problem) and notes (an index not used, a store of 0.1.0)."""

    results: list[dict[str, Any]] = field(default_factory=list)
    hits: list[dict[str, list[Any]]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def search_queries(
    loaded: Any,
    store: Any,
    queries: Sequence[Any],
    *,
    target: Sequence[str] | None = None,
    top: int = 10,
    exact: bool = False,
    whole: bool = False,
    skipped: Sequence[tuple[str, str]] = (),
) -> SearchAnswer:
    """Embed `queries` (`Query`s from `gather_queries`) in batches and search the store for all
    of them in one pass per target modality. A recording is one query per store window unless
    `whole`. One query alone raises its problem (InputError); among several, a query that
    cannot be embedded is reported in `skipped`."""
    from ugaar_kit.inference.embedding import embed_queries
    from ugaar_kit.retrieval.search import search_many

    answer = SearchAnswer(skipped=list(skipped))
    settings = store.settings
    embedded = []
    for e in embed_queries(
        loaded,
        list(queries),
        window=settings.get("window"),
        hop=settings.get("hop"),
        whole=whole,
        strict=len(queries) == 1 and not skipped,  # one query: its problem is the caller's error
    ):
        if e.vector is None:
            answer.skipped.append((e.label, e.error or "cannot be embedded"))
        else:
            embedded.append(e)
    groups: dict[str, list[int]] = {}
    for i, e in enumerate(embedded):
        groups.setdefault(e.query.modality, []).append(i)
    answer.hits = [{} for _ in embedded]
    for qmod, members in groups.items():
        targets = search_targets(store, qmod, target)
        vectors = np.stack([embedded[i].vector for i in members])  # type: ignore[misc]
        found = search_many(store, vectors, targets, top, exact=exact, notes=answer.notes)
        for i, hits in zip(members, found):
            answer.hits[i] = hits
    for e, hits in zip(embedded, answer.hits):
        answer.results.append(
            {
                "query": e.label if e.query.path is not None else f"--text {e.query.text!r}",
                "query_modality": e.query.modality,
                "start": e.start,
                "end": e.end,
                "results": {m: [h.as_dict() for h in found] for m, found in hits.items()},
            }
        )
    answer.notes = list(dict.fromkeys(answer.notes))
    return answer


def query_jobs(
    loaded: Any, store: Any, paths: Sequence[Path], text: Sequence[str], page_window: float, page_hop: float
) -> list[tuple[str, str, Callable[[], list[Any]]]]:
    """(label, modality, embed) of each identification query: a file (a recording: the store's
    windows; a page: windows along its systems; a lyrics file: its lines), and the `text` lines
    as one query; `embed()` gives its `Embedded` vectors in order."""
    from ugaar_kit.inference.embedding import embed_queries, gather_queries
    from ugaar_kit.inference.embedding.query import Query, page_windows, text_modality

    window, hop = store.settings.get("window"), store.settings.get("hop")
    jobs: list[tuple[str, str, Callable[[], list[Any]]]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            raise InputError(path, "a folder: give files (one query each)")
        q = gather_queries(loaded, [path])[0][0]
        embed: Callable[[], list[Any]]
        if q.modality == SHEET:
            embed = functools.partial(page_windows, loaded, path, SHEET, page_window, page_hop)
        elif getattr(loaded.encoders[q.modality], "text_input", False):
            lines = gather_queries(loaded, lines=path, modality=q.modality)[0]
            embed = functools.partial(embed_queries, loaded, lines)
        else:
            embed = functools.partial(embed_queries, loaded, [q], window=window, hop=hop, strict=True)
        jobs.append((str(path), q.modality, embed))
    if text:
        m = text_modality(loaded, None)
        lines_q = [Query(t, m, text=t) for t in text]
        jobs.append((f"--text ({len(text)} lines)", m, functools.partial(embed_queries, loaded, lines_q)))
    return jobs


def target_of(store: Any, modality: str, target: str | None) -> str:
    """The stored modality a query of `modality` is identified against: `target`, else the
    first of `PREFERRED_TARGETS` the store has; never the query's own."""
    if target is not None:
        if target == modality:
            raise OptionError(f"--target {target}: identify matches across modalities, never a query's own")
        if target not in store.modalities:
            raise OptionError(
                f"--target {target}: the store has no such embeddings (it has: {', '.join(store.modalities) or 'none'})"
            )
        return target
    others = [m for m in store.modalities if m != modality]
    preferred = [m for m in PREFERRED_TARGETS.get(modality, ()) if m in others]
    if not preferred and not others:
        raise OptionError(
            f"the store holds only {modality} embeddings: identify matches a query against another modality"
        )
    return (preferred or others)[0]


def identify_job(
    store: Any,
    job: tuple[str, str, Callable[[], list[Any]]],
    target: str | None,
    table: dict[str, str] | None,
    sizes: dict[str, Any],
    *,
    k: int = 10,
    aggregate: str = "auto",
    top: int = 5,
    exact: bool = False,
    notes: list[str] | None = None,
    hubness: bool = True,
    data: Path | None = None,
    cuts: Any = None,
) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """Identify one query of `query_jobs`: its `identify --json` object (None when nothing in
    it could be embedded) and the windows or lines skipped (label, problem). `sizes` caches,
    between queries, each target's `piece_sizes` (key: the target), hubness penalty
    (`penalty/TARGET/QUERY_MODALITY`, and whether it applies: `applies/QUERY_MODALITY`) and
    pieces' rows in order (`orders/TARGET/QUERY_MODALITY`: for a page, the store's recordings
    in windows; else from the dataset folder `data`), which `sequence` and `timeline` need and
    `auto` uses when it can.
    `cuts`: the query cut at any span (`recording_cuts`), which `timeline` reads beside its
    windows."""
    from ugaar_kit.retrieval.hubness import applies, penalty
    from ugaar_kit.retrieval.identify import ORDERED, chosen_aggregate, identify, piece_sizes

    label, modality, embed = job
    goal = target_of(store, modality, target)
    embedded = embed()
    skipped = [(e.label, e.error or "cannot be embedded") for e in embedded if e.vector is None]
    used = [e for e in embedded if e.vector is not None]
    vectors = [e.vector for e in used]
    if not vectors:
        return None, [*skipped, (label, "nothing in it could be embedded")]
    if goal not in sizes:
        sizes[goal] = piece_sizes(store, goal, table)
    if f"applies/{modality}" not in sizes:
        sizes[f"applies/{modality}"] = applies(modality, store)
    hubness = hubness and sizes[f"applies/{modality}"]
    hub_key, order_key = f"penalty/{goal}/{modality}", f"orders/{goal}/{modality}"
    if hubness and hub_key not in sizes:
        sizes[hub_key] = penalty(store, goal, modality)
    if (aggregate == "auto" or aggregate in ORDERED) and order_key not in sizes:
        sizes[order_key] = _orders(store, goal, data, table, recordings=modality == SHEET)
    orders = sizes.get(order_key)
    if aggregate in ORDERED and not orders:
        also = "; for a page, a store holding recordings in windows does" if aggregate == "sequence" else ""
        raise OptionError(
            f"--aggregate {aggregate} needs --data DATASET, a dataset of whole songs (songs.jsonl): "
            f"each piece's passages in order{also}"
        )
    timed = all(e.start is not None and e.end is not None for e in used)  # a recording's windows
    if aggregate == "timeline" and not timed:
        raise OptionError(f"--aggregate timeline needs a recording: {label} has no times")
    chosen = chosen_aggregate(aggregate, modality, len(vectors), bool(orders), timed, target=goal)
    spans = [(float(e.start), float(e.end)) for e in used] if timed else None
    ranked = identify(
        store,
        np.stack(vectors),
        goal,
        table,
        k=k,
        aggregate=chosen,
        top=top,
        exact=exact,
        notes=notes,
        sizes=sizes[goal],
        penalty=sizes.get(hub_key) if hubness else None,
        orders=orders,
        spans=spans,
        cuts=cuts if chosen == "timeline" else None,
    )
    payload = {
        "query": label,
        "query_modality": modality,
        "target": goal,
        "vectors": len(vectors),
        "aggregate": chosen,
        "hubness": bool(hubness and sizes.get(hub_key) is not None),
        "pieces": [p.as_dict() for p in ranked],
    }
    return payload, skipped


def recording_cuts(run: Any, label: str, modality: str) -> Any:
    """The query of `query_jobs` labelled `label` cut at any span (`inference.embedding.cuts.
    query_cuts`, loaded when first cut) when it is a file (a job of a file is labelled by its
    path) of a recording its encoder reads as a waveform, short enough; else None. One for
    identify and locate of the same query, so each stretch is embedded once."""
    from ugaar_kit.inference.embedding.cuts import query_cuts

    return query_cuts(run, Path(label), modality) if Path(label).is_file() else None


def _orders(
    store: Any, target: str, data: Path | None, table: dict[str, str] | None, *, recordings: bool = False
) -> dict[str, list[Any]] | None:
    """Each piece's `target` rows in order: with `recordings` (a page's query) and audio rows,
    the store's windows of each recording (`recording_orders`); else from the whole songs of
    the dataset folder `data`; None without either."""
    from ugaar_kit.retrieval.identify import recording_orders
    from ugaar_kit.retrieval.played import piece_orders

    if recordings and target == AUDIO and (found := recording_orders(store, table)):
        return found
    if data is None:
        return None
    try:
        return piece_orders(store, target, data) or None
    except InputError:
        return None
