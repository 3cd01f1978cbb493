"""The learning-rate schedule and the wall-clock budget of a run.

`cosine` (the default): a linear warm-up over the first `warmup_steps`, then cosine decay to 0
at step `total`; `constant`: the base rate throughout. The factor multiplies every optimizer's
base learning rate before each step, so it depends on the step number alone and a resumed run
follows the same curve.

The schedule's length `total` is known up front when training runs for a number of epochs
(epochs x full batches an epoch). Under a time budget (`--max-time`) it is set after the first
`MEASURE_STEPS` steps from their measured duration (`budget_steps`): the rest of the budget
divided by the time of a step plus its share of the validations; and it is planned again at
every epoch's end from that epoch's steps, so a machine that turns slower or faster (another
job starting or ending) neither cuts the budget short nor ends it before the decay: from the
step it is re-planned at (`Anchor`), the rest of the cosine's progress is spread over the new
remaining steps, so the learning rate never jumps. Length and anchor are recorded in the
checkpoints and in `run.json`, so a resumed run keeps them, and training stops at whichever
comes first: the budget or the end of the schedule.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ugaar_kit.runfolder.config import SCHEDULES, Schedule

__all__ = ["SCHEDULES", "Schedule"]  # re-exported: the config format names them
MEASURE_STEPS = 30
"""Steps timed before a budgeted run fixes its schedule's length (the first five are not timed:
allocators and caches warm up)."""
UNTIMED_STEPS = 5
WARMUP_SHARE = 0.1
"""The warm-up never takes more than this share of the schedule."""
FORWARD_SHARE = 1 / 3
"""Forward alone, as a share of forward + backward + update: what one validated item costs
relative to one trained item."""


def warmup_for(total: int, warmup: int) -> int:
    """Warm-up steps for a schedule of `total` steps: `warmup`, at most `WARMUP_SHARE` of it."""
    return max(0, min(int(warmup), int(total * WARMUP_SHARE)))


class Anchor(NamedTuple):
    """Where a schedule was last re-planned: from `step` on, the cosine's progress runs from
    `progress` to 1 at the schedule's end."""

    step: int
    progress: float


def progress_at(step: int, total: int, warmup_steps: int, anchor: Anchor | None = None) -> float:
    """The cosine's progress in [0, 1] at `step`: linear from the warm-up's end (or the
    anchor) to `total`."""
    start, done = (warmup_steps, 0.0) if anchor is None else anchor
    if step <= start:
        return done
    span = max(1, total - start)
    return min(1.0, done + (1.0 - done) * (step - start) / span)


def lr_factor(step: int, kind: str, total: int | None, warmup_steps: int, anchor: Anchor | None = None) -> float:
    """The factor of the base learning rate at `step` (0-based). `total` None (a budgeted run
    before its length is fixed): warm-up only. `anchor`: the last re-planning (see `Anchor`)."""
    if kind == "constant":
        return 1.0
    if kind != "cosine":
        raise ValueError(f"unknown schedule {kind!r} (known: {', '.join(SCHEDULES)})")
    if step < warmup_steps and anchor is None:
        return (step + 1) / warmup_steps
    if total is None:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * progress_at(step, total, warmup_steps, anchor)))


def budget_steps(
    seconds_left: float,
    step_seconds: float,
    *,
    batch_size: int,
    batches_per_epoch: int,
    eval_items: int,
    valid_every: float | None,
) -> int:
    """Steps that fit in `seconds_left`: each costs `step_seconds` plus its share of the
    validations, one per epoch (or one per `valid_every` seconds when that is rarer), each
    embedding `eval_items` items at `FORWARD_SHARE` of a trained item's cost."""
    step_seconds = max(step_seconds, 1e-6)
    validation = eval_items / max(1, batch_size) * step_seconds * FORWARD_SHARE
    per_step = validation / max(1, batches_per_epoch)
    if valid_every:
        per_step = min(per_step, validation * step_seconds / valid_every)
    return max(1, int(seconds_left / (step_seconds + per_step)))
