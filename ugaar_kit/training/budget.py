"""The run's clock, step count and schedule length: what `--max-time` and `--epochs` decide.

`Budget` is the part of the trainer's state that says how far a run has come and how far it
may go: steps and samples trained, seconds spent (across resumes), the schedule's length and
warm-up (`schedule.py` holds the curve itself), and why training stopped. Under `--max-time`
it fixes the schedule's length from the first steps' measured rate and plans it again at every
epoch's end (see `schedule.py`); rank 0 measures and decides, and `share_int` / `share_flag`
give every process its answer. Its `state()` goes into `last.pt`, its `info()` into `run.json`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ugaar_kit.interfaces.options import format_duration
from ugaar_kit.runfolder.config import DEFAULT_EPOCHS
from ugaar_kit.training import schedule as sched


def _same_int(value: int) -> int:
    return value


def _same_flag(flag: bool) -> bool:
    return flag


class Budget:
    """How far a run has come and may go; the trainer calls it around every step and epoch."""

    def __init__(
        self,
        *,
        max_time: float | None,
        epochs: int | None,
        schedule: str,
        warmup: int,
        valid_every: float | None,
        main: bool = True,
        say: Callable[[str], None] = lambda message: None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.max_time = None if max_time is None else float(max_time)
        self.schedule = schedule
        self.warmup = int(warmup)
        self.valid_every = valid_every
        self.epochs_bounded = epochs is not None or max_time is None
        """False when the run trains as many epochs as `max_time` allows (no `epochs` given)."""
        self.max_epochs = epochs if epochs is not None else (1 << 30 if max_time else DEFAULT_EPOCHS)
        """Epochs to train: `epochs`, else 30, else (under `max_time`) as many as the budget allows."""
        self.main = main
        self.say = say
        self.share_int: Callable[[int], int] = _same_int
        """Rank 0's integer for every process (`ddp.broadcast_int` in a distributed run)."""
        self.share_flag: Callable[[bool], bool] = _same_flag
        self.train_seconds = 0.0
        """Seconds spent in the training loop (steps and validations) so far, across resumes."""
        self.steps = 0
        self.samples = 0
        self.schedule_steps: int | None = None
        """The schedule's length in steps (None until a budgeted run has measured its rate)."""
        self.warmup_steps = 0
        self.step_seconds: float | None = None
        """The measured seconds of a step that last planned a budgeted schedule's length."""
        self.anchor: sched.Anchor | None = None
        """Where a budgeted schedule was last re-planned past its warm-up (None: never)."""
        self.stopped = ""
        """Why training ended: epochs, patience, max_time or schedule."""
        self.last_valid_at = 0.0
        self.batch_rows = 1
        """Rows a step trains, over every process."""
        self.batches_per_epoch = 0
        self.eval_items = 0
        """Items a validation embeds (the validation split and the objective's fit sample)."""
        self._timed_from: tuple[float, int] | None = None
        self._window = (0.0, 0)
        """Training seconds and steps of the epochs since the last re-plan (validation excluded)."""
        self.clock = clock
        """The budget's clock (seconds); tests replace it."""
        self._clock_start = self.clock()

    @classmethod
    def of(cls, settings: Any, **kwargs: Any) -> Budget:
        """The budget of a run's `TrainSettings` (`max_time`, `epochs`, `schedule`, `warmup`,
        `valid_every`); `kwargs`: `main`, `say`, `clock`."""
        keys = ("max_time", "epochs", "schedule", "warmup", "valid_every")
        return cls(**{k: getattr(settings, k) for k in keys}, **kwargs)

    @property
    def epochs_label(self) -> str:
        """The epoch count as progress shows it: `30`, or `?` under a budget alone."""
        return str(self.max_epochs) if self.epochs_bounded else "?"

    def plan(self, *, batch_rows: int, batches_per_epoch: int, eval_items: int, fixed: bool = True) -> None:
        """What a step and an epoch hold; with `fixed`, the schedule's length when it is known
        before training (no `max_time`). A resumed budgeted run keeps the length it restores."""
        self.batch_rows, self.batches_per_epoch, self.eval_items = batch_rows, batches_per_epoch, eval_items
        if not fixed:
            return
        if self.max_time is None:
            self.schedule_steps = self.max_epochs * batches_per_epoch
            self.warmup_steps = sched.warmup_for(self.schedule_steps, self.warmup)
        else:
            self.warmup_steps = self.warmup  # provisional: shortened once the length is known

    def start(self) -> bool:
        """Start the clock where the run left it; False when the budget is already spent."""
        self._clock_start = self.clock() - self.train_seconds
        if self.max_time is not None and self.train_seconds >= self.max_time:
            self.stopped = self.stopped or "max_time"
            return False
        self.stopped = "epochs"
        return True

    def elapsed(self) -> float:
        """Seconds of training-loop time so far, this process and earlier ones of the run."""
        return self.clock() - self._clock_start

    def progress(self) -> float:
        """The schedule's progress in [0, 1]: 0 through the warm-up (and before a budgeted run
        has fixed its length), 1 at the planned end. It never goes back when a budget re-plans
        (the cosine continues from its anchor), and every process computes the same value."""
        if self.schedule_steps is None:
            return 0.0
        return sched.progress_at(self.steps, self.schedule_steps, self.warmup_steps, self.anchor)

    def lr_factor(self) -> float:
        return sched.lr_factor(self.steps, self.schedule, self.schedule_steps, self.warmup_steps, self.anchor)

    def stepped(self, rows: int) -> None:
        """One step of `rows` rows (over every process) is done."""
        self.steps += 1
        self.samples += rows

    def validation_due(self, final: bool) -> bool:
        """True when an epoch's end validates: always when `final` or without `valid_every`."""
        return final or self.valid_every is None or self.elapsed() - self.last_valid_at >= float(self.valid_every)

    def validated(self) -> None:
        self.last_valid_at = self.elapsed()

    def epoch_ended(self) -> None:
        self.train_seconds = self.elapsed()

    def measure(self) -> None:
        """Under `max_time`, fix the schedule's length from the time of the first steps."""
        if self.max_time is None or self.schedule_steps is not None:
            return
        if self._timed_from is None:
            if self.steps >= sched.UNTIMED_STEPS:
                self._timed_from = (self.elapsed(), self.steps)
            return
        since, first = self._timed_from
        if self.steps - first < sched.MEASURE_STEPS - sched.UNTIMED_STEPS:
            return
        self.schedule_steps = self._steps_in_budget(self.elapsed() - since, self.steps - first)
        if self.warmup:
            self.warmup_steps = max(sched.MEASURE_STEPS, sched.warmup_for(self.schedule_steps, self.warmup))
        if self.step_seconds is not None:
            self.say(
                f"budget {format_duration(self.max_time)}: {self.step_seconds:.3f} s a step, "
                f"schedule set at {self.schedule_steps} steps ({self.warmup_steps} of warm-up)"
            )

    def _steps_in_budget(self, seconds: float, steps: int) -> int:
        """The schedule's length if the rest of the budget runs at the rate of `steps` steps that
        took `seconds`; rank 0 measures, every process gets its answer."""
        assert self.max_time is not None
        total = 0
        if self.main:
            step_seconds = seconds / max(1, steps)
            total = self.steps + sched.budget_steps(
                self.max_time - self.elapsed(),
                step_seconds,
                batch_size=self.batch_rows,
                batches_per_epoch=self.batches_per_epoch,
                eval_items=self.eval_items,
                valid_every=self.valid_every,
            )
            self.step_seconds = step_seconds
        return self.share_int(total)

    def replan(self, seconds: float, steps: int) -> None:
        """At an epoch's end under `max_time`: the schedule's length again from the training
        time of the epochs since the last re-plan (`seconds` for `steps` steps, validation not
        counted), the cosine continued from where it is (`sched.Anchor`), so the learning rate
        does not jump. Short epochs add up until they hold `MEASURE_STEPS` steps."""
        if self.max_time is None or self.schedule_steps is None:
            self._window = (0.0, 0)
            return
        seconds, steps = self._window[0] + seconds, self._window[1] + steps
        if steps < sched.MEASURE_STEPS:
            self._window = (seconds, steps)
            return
        self._window = (0.0, 0)
        if self.elapsed() >= self.max_time:
            return
        old = self.schedule_steps
        new = max(self.steps + 1, self._steps_in_budget(seconds, steps))
        if new == old:
            return
        if self.steps > self.warmup_steps:
            self.anchor = sched.Anchor(self.steps, sched.progress_at(self.steps, old, self.warmup_steps, self.anchor))
        self.schedule_steps = new
        if self.step_seconds is not None and abs(new - old) > 0.02 * old:
            self.say(
                f"{self.step_seconds:.3f} s a step in the last epoch: schedule re-planned at {new} steps (was {old})"
            )

    def time_is_up(self) -> bool:
        """True when the budget is spent or a budgeted cosine schedule has ended (rank 0 decides)."""
        if self.max_time is None:
            return False
        up = False
        if self.main:
            if self.elapsed() >= self.max_time:
                up, self.stopped = True, "max_time"
            elif self.schedule == "cosine" and self.schedule_steps is not None and self.steps >= self.schedule_steps:
                up, self.stopped = True, "schedule"
        up = self.share_flag(up)
        if up and self.stopped not in ("max_time", "schedule"):
            self.stopped = "max_time"  # another process: rank 0 decided
        return up

    @property
    def out_of_time(self) -> bool:
        return self.stopped in ("max_time", "schedule")

    def state(self) -> dict[str, Any]:
        """What a resumed run needs to keep the budget and the schedule (in `last.pt`)."""
        return {
            "train_seconds": self.train_seconds,
            "steps": self.steps,
            "samples": self.samples,
            "schedule_steps": self.schedule_steps,
            "warmup_steps": self.warmup_steps,
            "step_seconds": self.step_seconds,
            "schedule_anchor": None if self.anchor is None else list(self.anchor),
            "last_valid_at": self.last_valid_at,
        }

    def restore(self, t: dict[str, Any]) -> None:
        """Continue from `state()` as `last.pt` holds it (older checkpoints lack some keys)."""
        self.train_seconds = float(t.get("train_seconds", 0.0))
        self.steps = int(t.get("steps", 0))
        self.samples = int(t.get("samples", 0))
        self.schedule_steps = None if t.get("schedule_steps") is None else int(t["schedule_steps"])
        self.warmup_steps = int(t.get("warmup_steps", 0))
        self.step_seconds = None if t.get("step_seconds") is None else float(t["step_seconds"])
        anchor = t.get("schedule_anchor")
        self.anchor = None if anchor is None else sched.Anchor(int(anchor[0]), float(anchor[1]))
        self.last_valid_at = float(t.get("last_valid_at", self.train_seconds))

    def info(self) -> dict[str, Any]:
        """The `training` entry of `run.json`: budget, schedule, steps and samples seen, why it stopped."""
        return {
            "max_time": self.max_time,
            "train_seconds": round(self.train_seconds, 3),
            "steps": self.steps,
            "samples": self.samples,
            "epochs_limit": self.max_epochs if self.epochs_bounded else None,
            "stopped": self.stopped or None,
            "schedule": {
                "name": self.schedule,
                "steps": self.schedule_steps,
                "warmup_steps": self.warmup_steps,
                "measured_step_seconds": self.step_seconds,
                "anchor": None if self.anchor is None else list(self.anchor),
            },
        }

    def row(self, lr: float) -> dict[str, Any]:
        """An epoch's row entries for the budget: steps and samples so far, the learning rate
        (`lr` times the schedule's factor) and the training seconds."""
        return {
            "steps": self.steps,
            "samples": self.samples,
            "lr": lr * self.lr_factor(),
            "elapsed": round(self.train_seconds, 3),
        }

    def summary(self, elapsed: float) -> str:
        """`step N  4m of 15m` for an epoch's line under a budget; empty without one."""
        if self.max_time is None:
            return ""
        return f"step {self.steps}  {format_duration(elapsed)} of {format_duration(self.max_time)}"
