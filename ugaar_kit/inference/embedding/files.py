"""One file to rows: read, cut (the encoder's `embed_rows`) and featurize; `prepare` is the task
`ugaar_kit.features.pool.featurized` runs for `embed`, here or in its worker processes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ugaar_kit.data.walk import Found
from ugaar_kit.errors import InputError


@dataclass
class Prepared:
    """One file's rows before the encoder: ids, times or lines, features; or an error."""

    index: int
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


def prepare(encoder: Any, task: tuple[int, Found], window: float, hop: float) -> Prepared:
    """Read, cut and featurize the file `task` = (index, found); a bad file gives a `Prepared`
    with its `error`."""
    index, found = task
    out = Prepared(index)
    try:
        rows = encoder.embed_rows(found.path, window, hop)
        out.ids = [found.source] if len(rows.raws) == 1 else [f"{found.source}#{f}" for f in rows.fragments]
        out.start, out.end, out.line, out.seconds = rows.start, rows.end, rows.line, rows.seconds
        with torch.no_grad():
            out.features = [_portable(encoder.featurize(r)) for r in rows.raws]
    except InputError as exc:
        return Prepared(index, error=exc.problem)
    except Exception as exc:  # noqa: BLE001 - whatever a file makes a reader raise, it is that file's problem
        return Prepared(index, error=f"cannot read ({type(exc).__name__}: {exc})")
    return out
