"""One file to rows: read, cut (the encoder's `embed_parts`) and featurize, a part at a time;
`prepare_routed` is the task `ugaar_kit.features.pool.featurized` runs for `embed`, here or in
its worker processes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ugaar_kit.data.walk import Found
from ugaar_kit.errors import InputError


@dataclass
class Prepared:
    """A part of one file's rows before the encoder: ids, times or lines, features; or the
    file's error. `last` marks its last part (the file is whole once that part is embedded);
    an error part is the last, and the file's earlier parts are dropped."""

    index: int
    last: bool = True
    modality: str = ""
    ids: list[str] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    features: list[Any] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def _portable(feature: Any) -> Any:
    """A feature as a NumPy array when possible (cheap to send from a worker process)."""
    if isinstance(feature, torch.Tensor):
        try:
            return feature.detach().cpu().numpy()
        except (TypeError, RuntimeError):
            return feature.detach().cpu()
    return feature


def prepare(encoder: Any, task: tuple[int, Found], window: float, hop: float) -> Iterator[Prepared]:
    """Read, cut and featurize the file `task` = (index, found), a part at a time; a bad file
    ends with a `Prepared` holding its `error`. A file of one row has the id `source`, any other
    `source#FRAGMENT`."""
    index, found = task
    try:
        parts = iter(encoder.embed_parts(found.path, window, hop))
        rows = next(parts, None)
        first = True
        while rows is not None:
            following = next(parts, None)  # one part ahead: is this the last, and a lone row?
            out = Prepared(index, last=following is None)
            alone = first and following is None and len(rows.raws) == 1
            out.ids = [found.source] if alone else [f"{found.source}#{f}" for f in rows.fragments]
            out.start, out.end, out.line, out.seconds = rows.start, rows.end, rows.line, rows.seconds
            with torch.no_grad():
                out.features = [_portable(encoder.featurize(r)) for r in rows.raws]
            yield out
            rows, first = following, False
    except InputError as exc:
        yield Prepared(index, error=exc.problem)
    except Exception as exc:  # noqa: BLE001 - whatever a file makes a reader raise, it is that file's problem
        yield Prepared(index, error=f"cannot read ({type(exc).__name__}: {exc})")


def prepare_routed(
    encoders: Mapping[str, Any], task: tuple[str, int, Found], window: float, hop: float
) -> Iterator[Prepared]:
    """`prepare` of task = (modality, index, found) with that modality's encoder, each part
    marked with its modality (one pool prepares every modality's files)."""
    modality, index, found = task
    for part in prepare(encoders[modality], (index, found), window, hop):
        part.modality = modality
        yield part
