"""Model selection: the validation score, the best epoch so far, and early stopping.

The score is the mean validation MRR over every direction, or over the `select` directions when
a run names them; the best epoch's state is `best.pt`, and a run stops after `patience`
validations without a better score. `Selection.state()` goes into `last.pt` so a resumed run
keeps counting where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ugaar_kit.errors import OptionError


def mean_mrr(metrics: Mapping[str, Mapping[str, float]], directions: Sequence[str] = ()) -> float:
    """The mean MRR over `directions` (every one when empty): the model-selection score; NaN when none."""
    rows = [metrics[d] for d in directions] if directions else list(metrics.values())
    values = [float(v["MRR"]) for v in rows if "MRR" in v]
    return float(np.mean(values)) if values else float("nan")


def check_select(select: Sequence[str], modalities: Sequence[str]) -> None:
    """OptionError unless every direction of `select` is an ordered pair of the run's modalities."""
    known = [f"{q}->{c}" for q in modalities for c in modalities if q != c]
    for d in select:
        if d not in known:
            raise OptionError(f"select: '{d}' is not a direction of this run (directions: {', '.join(known)})")


class Selection:
    """The best validation score so far, its epoch, and the validations since it."""

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best_score = float("-inf")
        self.best_epoch = 0
        self.since_best = 0

    def update(self, epoch: int, score: float, *, validated: bool, has_valid: bool) -> bool:
        """Record an epoch's end (1-based `epoch`); True when it is the new best. Without a
        validation split every epoch is the best; an epoch that did not validate never is."""
        improved = validated and (not has_valid or (np.isfinite(score) and score > self.best_score))
        if improved:
            self.best_score = float(score) if np.isfinite(score) else self.best_score
            self.best_epoch = epoch
            self.since_best = 0
        elif validated:
            self.since_best += 1
        return bool(improved)

    @property
    def patience_spent(self) -> bool:
        return bool(self.patience) and self.since_best >= int(self.patience or 0)

    @property
    def best_valid_mrr(self) -> float | None:
        return self.best_score if np.isfinite(self.best_score) else None

    def state(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "since_best": self.since_best}

    def restore(self, t: Mapping[str, Any]) -> None:
        self.best_score, self.best_epoch, self.since_best = (
            float(t["best_score"]),
            int(t["best_epoch"]),
            int(t["since_best"]),
        )


def project_views(
    objective: Any, views: Mapping[str, Tensor], *, with_loss: bool
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """The views projected into the shared space (on the CPU) and, `with_loss`, the objective's
    validation loss terms; the objective in eval mode meanwhile."""
    objective.eval()
    try:
        with torch.no_grad():
            projected = {m: objective.project(m, z).float().cpu() for m, z in views.items()}
            losses = objective.validation_loss(views) if with_loss else {}
    finally:
        objective.train()
    return projected, {k: float(v) for k, v in losses.items()}


def validation_row(
    projected: Mapping[str, Tensor], groups: Sequence[str | None], losses: Mapping[str, float], select: Sequence[str]
) -> dict[str, Any]:
    """An epoch's validation entries: `valid` (metrics per direction), `valid_mrr` (their mean
    MRR), `valid_loss`, and `valid_score` (the mean over `select`) when a run selects."""
    from ugaar_kit.retrieval.metrics import retrieval_metrics

    metrics = retrieval_metrics(dict(projected), list(groups))
    out: dict[str, Any] = {
        "valid": {d: {k: float(v) for k, v in row.items()} for d, row in metrics.items()},
        "valid_mrr": mean_mrr(metrics),
        "valid_loss": dict(losses),
    }
    if select:
        out["valid_score"] = mean_mrr(metrics, select)
    return out
