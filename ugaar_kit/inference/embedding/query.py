"""Search queries to shared-space embeddings: files, folders of files, texts for a text modality.

A query file's modality comes from its extension unless given, and its encoder's `query_input`
reads it (lyrics: its lines joined into one passage). A recording read by a `Waveform` encoder
is cut into the windows `embed` cut the store's recordings into (each window a query,
`FILE#t=START-END`; one window: the file), decoded a block at a time, so an hour-long query
needs no more memory than a short one; `whole=True` embeds it whole instead. A text goes to the
run's one modality whose encoder takes text (`text_input`: lyrics), or to `modality`. Queries of
one modality are featurized and encoded together, in length-sorted batches, so a thousand
queries cost one pass of the model over them (`embed_queries`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.data.staves import PAGE_HOP, PAGE_WINDOW
from ugaar_kit.data.walk import Found, Walker
from ugaar_kit.errors import InputError, OptionError, UgaarError
from ugaar_kit.features.encode import device_of, encode_features
from ugaar_kit.inference.embedding.settings import TrainedModel, extension_routes, resolve_window
from ugaar_kit.interfaces.modality import SHEET
from ugaar_kit.interfaces.rows import Waveform, seconds_label


@dataclass(frozen=True)
class Query:
    """One query: a file or a text, and the modality it is embedded in."""

    label: str
    """What the user gave: the file's path, or the text."""
    modality: str
    path: Path | None = None
    text: str | None = None


@dataclass
class Embedded:
    """A query's (or one of its windows') `(D,)` shared-space embedding, or why it could not be
    embedded; `label` names the window (`FILE#t=START-END`) when a recording gave several."""

    query: Query
    vector: np.ndarray | None = None
    error: str | None = None
    label: str = ""
    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        self.label = self.label or self.query.label


def text_modality(run: TrainedModel, modality: str | None) -> str:
    """The modality texts go to: `modality`, or the run's one text modality."""
    if modality is not None:
        return modality
    texts = [m for m in run.modalities if getattr(run.encoders[m], "text_input", False)]
    if len(texts) != 1:
        raise OptionError(
            f"--text: the run has {len(texts) or 'no'} text modalities ({', '.join(texts) or 'none'}); "
            "choose one with --modality"
        )
    return texts[0]


def check_modality(run: TrainedModel, modality: str) -> None:
    if modality not in run.encoders:
        raise OptionError(f"the run has no {modality} encoder (it has: {', '.join(run.modalities)})")


def file_query(run: TrainedModel, path: Path, modality: str | None = None) -> Query:
    """The query of one file; InputError when it is missing or its modality cannot be told."""
    if not path.is_file():
        raise InputError(path, "no such file" if not path.exists() else "not a file")
    if modality is None:
        routes = extension_routes(run)
        modality = routes.get(path.suffix.lower())
        if modality is None:
            known = ", ".join(sorted(routes)) or "none"
            raise InputError(
                path, f"cannot tell the modality of '{path.suffix}' files (the run reads {known}); use --modality"
            )
    return Query(str(path), modality, path=path)


def gather_queries(
    run: TrainedModel,
    paths: Sequence[Path] = (),
    texts: Sequence[str] = (),
    lines: Path | None = None,
    modality: str | None = None,
) -> tuple[list[Query], list[tuple[str, str]]]:
    """The queries of files, folders (every file under one whose extension the run reads,
    sorted; `embed`'s walk), texts, and the non-blank lines of the text file `lines` (each one
    lyrics query). Returns (queries, skipped as (label, problem)); a file given by name that
    cannot be used raises InputError, as a single query would."""
    from ugaar_kit.data.media import read_text

    queries: list[Query] = []
    skipped: list[tuple[str, str]] = []
    routes = extension_routes(run)
    for path in paths:
        path = Path(path)
        if path.is_dir():
            walker = Walker([path], accept=lambda s: modality is not None or s in routes)
            for entry in walker:
                if isinstance(entry, Found):
                    queries.append(file_query(run, entry.path, modality))
                else:
                    skipped.append((entry.source, entry.reason))
        else:
            queries.append(file_query(run, path, modality))
    all_texts = list(texts)
    if lines is not None:
        all_texts += [line for line in read_text(lines, 16 << 20).splitlines() if line.strip()]
    if all_texts:
        m = text_modality(run, modality)
        queries += [Query(t, m, text=t) for t in all_texts]
    for m in {q.modality for q in queries}:
        check_modality(run, m)
    return queries, skipped


def embed_queries(
    run: TrainedModel,
    queries: Sequence[Query],
    batch_size: int = 64,
    window: float | None = None,
    hop: float | None = None,
    whole: bool = False,
    strict: bool = False,
) -> list[Embedded]:
    """Every query's shared-space embedding, in the queries' order; a recording (unless `whole`)
    gives one per window of `window` seconds every `hop` (default: the run's, as `embed`
    cuts). A query whose input the encoder refuses (a bad file, a text with no words) gets its
    error instead, or raises it when `strict`."""
    window, hop = resolve_window(run, window, hop)
    out: list[Embedded] = []
    for q in queries:
        encoder = run.encoders[q.modality]
        project = functools.partial(run.objective.project, q.modality)
        try:
            if q.path is not None and not whole and isinstance(encoder, Waveform):
                out += _windows(q, encoder, project, window, hop, batch_size)
            else:
                out.append(Embedded(q, _single(encoder, q, project)))
        except UgaarError as exc:
            if strict:
                raise
            out.append(Embedded(q, error=exc.problem if isinstance(exc, InputError) else str(exc)))
    return out


def _single(encoder: Any, q: Query, project: Any) -> np.ndarray:
    feats = [encoder.featurize(encoder.query_input(q.path, q.text))]
    return encode_features(encoder, feats, 1, device_of(encoder), project)[0].cpu().numpy()


def _windows(q: Query, encoder: Any, project: Any, window: float, hop: float, batch_size: int) -> list[Embedded]:
    """One `Embedded` per window of the recording, embedded a part of `embed_parts` at a time."""
    assert q.path is not None
    parts: list[tuple[float, float, np.ndarray]] = []  # (start, end, vector) of every window so far
    for rows in encoder.embed_parts(q.path, window, hop):
        feats = [encoder.featurize(r) for r in rows.raws]
        z = encode_features(encoder, feats, batch_size, device_of(encoder), project).cpu().numpy()
        parts += [(a, b, v) for a, b, v in zip(rows.start, rows.end, z)]
    if len(parts) == 1:
        a, b, v = parts[0]
        return [Embedded(q, v, start=a, end=b)]
    return [
        Embedded(q, v, label=f"{q.label}#t={seconds_label(a)}-{seconds_label(b)}", start=a, end=b) for a, b, v in parts
    ]


def embed_query(
    run: TrainedModel, path: str | Path | None = None, text: str | None = None, modality: str | None = None
) -> tuple[str, np.ndarray]:
    """(modality, `(D,)` shared-space embedding) of one query: a file, or `text`; an input the
    encoder refuses raises its error."""
    if (path is None) == (text is None):
        raise OptionError("give a query file or --text, not both")
    if text is not None:
        query = Query(text, text_modality(run, modality), text=text)
    else:
        query = file_query(run, Path(path), modality)  # type: ignore[arg-type]
    check_modality(run, query.modality)
    encoder = run.encoders[query.modality]
    raw = encoder.query_input(query.path, query.text)  # raises the encoder's own error
    project = functools.partial(run.objective.project, query.modality)
    z = encode_features(encoder, [encoder.featurize(raw)], 1, device_of(encoder), project)
    return query.modality, z[0].cpu().numpy()


def page_windows(
    run: TrainedModel,
    path: Path,
    modality: str = SHEET,
    window: float = PAGE_WINDOW,
    hop: float = PAGE_HOP,
    batch_size: int = 64,
) -> list[Embedded]:
    """A page of printed music as queries: its systems found (`ugaar_kit.data.staves`), windows
    cut along each one (`window` strip heights every `hop`) and embedded by the run's encoder of
    `modality`, which must take greyscale images (`load_image`'s). Each window is labelled
    `FILE#system=N&x=X0-X1` (1-based system, the page's pixels). InputError when the page
    cannot be read or holds no staff."""
    import torch

    from ugaar_kit.data.media import load_image
    from ugaar_kit.data.staves import windows_of_page
    from ugaar_kit.interfaces.rows import page_window_fragment

    check_modality(run, modality)
    windows = list(windows_of_page(load_image(path).numpy(), window, hop))
    if not windows:
        raise InputError(path, "no staff found on the page (expected printed music: systems of five-line staves)")
    encoder = run.encoders[modality]
    project = functools.partial(run.objective.project, modality)
    query = Query(str(path), modality, path=path)
    feats = [encoder.featurize(torch.from_numpy(np.ascontiguousarray(w.pixels))) for w in windows]
    labels = [f"{path}#{page_window_fragment(w)}" for w in windows]
    z = encode_features(encoder, feats, batch_size, device_of(encoder), project).cpu().numpy()
    return [Embedded(query, v, label=label) for label, v in zip(labels, z)]
