"""The training loop: encoders and an objective trained on a dataset folder into a run folder.

`Trainer(config, registry).run()` does, in order: resolve the components (`assemble`), fit the
encoders that need it on the training split, build the feature caches, train epoch by epoch
(the objective's `training_step` does the updates), validate every epoch (`retrieval_metrics`
on `objective.project`ed embeddings, plus `validation_loss`), keep the best checkpoint by mean
validation MRR (over the `select` directions when given), stop early after `patience` epochs
without progress, then reload the best state, call `objective.fit` on the whole training split
and write `model.pt`.

The trainer knows no objective by name: it calls `training_step`, `validation_loss`,
`parameter_groups`, `fit` and `project` only.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import os
import random
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress
from torch import Tensor, nn

from .. import __version__
from ..dataset import DatasetFolder, Item
from ..distributed import local_only
from ..encoder import Encoder
from ..errors import InputError, OptionError
from ..modality import MODALITIES
from ..objective import Objective, Optimizers
from ..options import format_duration
from ..progress import progress_bar, reporter
from ..registry import Registry
from ..state import load_safe, save_atomic
from . import checkpoint as ckpt
from . import ddp
from . import run_folder as rf
from . import schedule as sched
from .assemble import DEFAULT_BATCH, Plan, auto_batch_size, check_batch_size, plan_run
from .config import DEFAULT_EPOCHS, RunConfig, to_toml_dict, write_config
from .curves import plot_curves
from .feature_cache import FeatureCache, cache_path, default_workers, sources
from .loader import SplitData, bucket_batches, shard


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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _writable(folder: Path) -> bool:
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)


class Trainer:
    """One training run. `run()` does everything; the steps are methods for tests and tools."""

    def __init__(
        self, config: RunConfig, registry: Registry, *, console: Console | None = None, progress: bool = True
    ) -> None:
        self.config = config
        self.registry = registry
        self.console = console or Console(stderr=True, highlight=False)
        self.show_progress = progress
        self.settings = config.settings
        self.start_epoch = 0
        self.best_score = float("-inf")
        self.best_epoch = 0
        self.since_best = 0
        self.rows: list[dict[str, Any]] = []
        self.final_valid: dict[str, Any] = {}
        self.valid_embeddings: dict[str, Tensor] = {}
        """`(N_valid, shared_dim)` per modality from the latest validation pass (CPU)."""
        self._created_group = False
        self._rng_state: dict[str, Any] | None = None
        s = self.settings
        self.max_epochs = s.epochs if s.epochs is not None else (1 << 30 if s.max_time else DEFAULT_EPOCHS)
        """Epochs to train: `epochs`, else 30, else (under `max_time`) as many as the budget allows."""
        self.train_seconds = 0.0
        """Seconds spent in the training loop (steps and validations) so far, across resumes."""
        self.global_step = 0
        self.samples = 0
        self.schedule_steps: int | None = None
        """The schedule's length in steps (None until a budgeted run has measured its rate)."""
        self.warmup_steps = 0
        self.step_seconds: float | None = None
        """The measured seconds of a step that last planned a budgeted schedule's length."""
        self.schedule_anchor: sched.Anchor | None = None
        """Where a budgeted schedule was last re-planned past its warm-up (None: never)."""
        self.stopped = ""
        """Why training ended: epochs, patience, max_time or schedule."""
        self._last_valid_at = 0.0
        self._timed_from: tuple[float, int] | None = None
        self._replan_window = (0.0, 0)
        """Training seconds and steps of the epochs since the last re-plan (validation excluded)."""
        self.clock = time.perf_counter
        """The budget's clock (seconds); tests replace it."""
        self._clock_start = self.clock()

    # -- helpers ------------------------------------------------------------------------------
    @property
    def main(self) -> bool:
        return ddp.rank() == 0

    def say(self, message: str) -> None:
        if self.main:
            self.console.print(message, markup=False, highlight=False)

    def _progress(self) -> Progress:
        return progress_bar(
            trailing="{task.fields[terms]}",
            console=self.console,
            enabled=self.show_progress and self.main and self.console.is_terminal,
        )

    # -- setup --------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Resolve components, make the run folder, fit encoders, build caches and optimizers."""
        s = self.settings
        self._created_group = ddp.init_from_env(s.device)
        self.rank, self.world = ddp.rank(), ddp.world_size()
        if s.data is None:
            raise OptionError("no dataset: give --data DIR (a folder built by 'ugaar-kit dataset build')")
        if s.out is None:
            raise OptionError("no run folder: give --out RUN")
        self.out = Path(s.out).resolve()
        self.data = DatasetFolder(Path(s.data))
        known = list(dict.fromkeys([*MODALITIES, *self.registry.modalities()]))
        available = [m for m in known if any(it.has(m) for it in self.data.items)]
        self.plan: Plan = plan_run(self.config, self.registry, available, data=str(s.data))
        for note in self.plan.notes:
            self.say(note)
        mods = self.plan.modalities
        check_select(s.select, mods)
        labels = ", ".join(f"{m}/{self.plan.encoders[m].name}" for m in mods)
        self.say(f"training {labels} with objective '{self.plan.objective.name}'")

        self.train_items = self._split("train")
        self.valid_items = self._split("valid")
        if not self.train_items:
            raise InputError(self.data.root, f"no training items (split 'train') with {', '.join(mods)}")
        if not self.valid_items:
            self.say("no validation split: the last epoch is kept as the best")

        resume_state: dict[str, Any] | None = None
        info_path = self.out / rf.INFO
        if s.resume is not None and (self.out / rf.LAST).is_file():
            resume_state = ckpt.load(self.out / rf.LAST)
            self.run_id = str(resume_state["run_id"])
        elif s.resume is not None:
            # stopped before its first epoch ended: nothing to restore, so start it again
            self.say(f"{self.out}: no epoch was finished; starting the run from the beginning")
            old = rf.read_json(info_path) if info_path.is_file() else {}
            self.run_id = str(old.get("run_id") or rf.new_run_id())
            if self.main:
                (self.out / rf.METRICS).unlink(missing_ok=True)
                (self.out / rf.BEST).unlink(missing_ok=True)
        else:
            if info_path.exists():
                status = rf.read_json(info_path).get("status", "running") if info_path.is_file() else "running"
                if status != "finished" and not (self.out / rf.LAST).is_file():
                    raise OptionError(
                        f"{self.out} holds a run that stopped before its first epoch ended (status '{status}', no "
                        f"{rf.LAST}): --resume {self.out} starts it again, or choose another --out"
                    )
                raise OptionError(
                    f"{self.out} already holds a run: continue it with --resume {self.out} or choose another --out"
                )
            if self.out.is_dir() and any(self.out.iterdir()):
                raise OptionError(f"{self.out} is not empty: give a new folder to --out")
            if self.out.exists() and not self.out.is_dir():
                raise OptionError(f"{self.out} is a file: give a new folder to --out")
            self.run_id = rf.new_run_id()

        seed_everything(s.seed)
        self.encoders: dict[str, Encoder] = self.plan.build_encoders()
        if resume_state is not None:
            for m, enc in self.encoders.items():
                enc.load_state_dict(resume_state["encoders"][m]["state_dict"])
        dims = {m: enc.output_dim for m, enc in self.encoders.items()}
        self.objective: Objective = self.plan.build_objective(dims)
        if resume_state is not None:
            self.objective.load_state_dict(resume_state["objective"]["state_dict"])
        self.batch_size = s.batch_size or auto_batch_size(self.objective, self.world)
        if s.batch_size is None and self.batch_size == getattr(self.objective, "default_batch", None):
            self.say(
                f"batch size {self.batch_size}: objective '{self.plan.objective.name}' default (choose with --batch-size)"
            )
        elif s.batch_size is None and self.batch_size != DEFAULT_BATCH:
            self.say(
                f"batch size {self.batch_size}: objective '{self.plan.objective.name}' needs more than "
                f"{self.objective.min_batch - 1} rows a batch, the encoders' widest output (choose with --batch-size, "
                "or narrow the encoders with -o MODALITY.dim=N)"
            )
        global_batch = self.batch_size * self.world
        if self.plan.trainable and self.max_epochs > 0:
            if len(self.train_items) < global_batch:
                need = int(getattr(self.objective, "min_batch", 1) or 1)
                most = len(self.train_items) // self.world
                if need > most:
                    hint = (
                        f"; objective '{self.plan.objective.name}' needs more than {need - 1} rows a batch, the "
                        f"encoders' widest output: narrow the encoders (-o MODALITY.dim=N, N below {most})"
                    )
                else:
                    hint = (
                        f"; choose --batch-size from {need} to {most}"
                        if need > 1
                        else f"; choose --batch-size {most} or less"
                    )
                raise OptionError(
                    f"--batch-size {self.batch_size}: the training split has only {len(self.train_items)} items"
                    + (f" ({self.world} processes take {global_batch} a step)" if self.world > 1 else "")
                    + hint
                )
            what = (
                "--batch-size {n}"
                if self.world == 1
                else f"--batch-size {self.batch_size} x {self.world} processes = {{n}} rows"
            )
            check_batch_size(self.objective, global_batch, what)
        created = self.main and s.resume is None and not self.out.exists()
        if self.main:  # after every check: a refused run leaves no folder behind
            self.out.mkdir(parents=True, exist_ok=True)
        ddp.barrier()
        try:
            self._prepare_run(resume_state)
        except BaseException:
            # failed before its run files were written (a bad input file met while caching
            # features, an interruption): the folder this run made holds nothing to resume
            if created and not (self.out / rf.INFO).exists():
                shutil.rmtree(self.out, ignore_errors=True)
            raise

    def _prepare_run(self, resume_state: dict[str, Any] | None) -> None:
        """The part of `prepare` after the checks: fit encoders, caches, optimizers, run files."""
        s = self.settings
        if resume_state is None:
            self._fit_encoders()  # after every check, so a refused run does no work
        self.validation_loss_ok = True
        if self.valid_items:
            try:
                check_batch_size(self.objective, len(self.valid_items), "the validation split ({n} items)")
            except OptionError as exc:
                self.validation_loss_ok = False
                self.say(f"validation loss skipped: {exc}")

        self._build_caches()
        self.device = ddp.pick_device(s.device)
        self.amp = bool(s.amp) and self.device.type == "cuda"
        for enc in self.encoders.values():
            enc.to(self.device)
        self.objective.to(self.device)
        self.models: dict[str, nn.Module] = {m: ddp.wrap_encoder(enc, self.device) for m, enc in self.encoders.items()}
        self._hooks = ddp.average_gradients_of(self.objective)
        self.optimizers = self._make_optimizers()

        self._base_lrs = {k: [g["lr"] for g in opt.param_groups] for k, opt in self.optimizers.optimizers.items()}
        if resume_state is None or s.max_time is None:
            self._plan_schedule()  # an epoch-bound schedule follows --epochs, also when a resume changes it
        if resume_state is not None:
            self.optimizers.load_state_dict(resume_state["optimizers"])
            t = resume_state["trainer"]
            self.start_epoch = int(resume_state["epoch"])
            self.best_score, self.best_epoch, self.since_best = (
                float(t["best_score"]),
                int(t["best_epoch"]),
                int(t["since_best"]),
            )
            self.train_seconds = float(t.get("train_seconds", 0.0))
            self.global_step = int(t.get("steps", 0))
            self.samples = int(t.get("samples", 0))
            self.schedule_steps = None if t.get("schedule_steps") is None else int(t["schedule_steps"])
            self.warmup_steps = int(t.get("warmup_steps", 0))
            self.step_seconds = None if t.get("step_seconds") is None else float(t["step_seconds"])
            anchor = t.get("schedule_anchor")
            self.schedule_anchor = None if anchor is None else sched.Anchor(int(anchor[0]), float(anchor[1]))
            self._last_valid_at = float(t.get("last_valid_at", self.train_seconds))
            self._rng_state = resume_state["rng"]
            if self.main:
                self.rows = rf.keep_rows_until(self.out / rf.METRICS, self.start_epoch)
            self.say(f"resuming {self.run_id} after epoch {self.start_epoch}")
        if self.main:
            self._write_run_files()
        if self._rng_state is not None:
            ckpt.restore_rng(self._rng_state)

    @property
    def objective_fits(self) -> bool:
        """True when the objective has closed-form parts to fit (it overrides `Objective.fit`)."""
        return type(self.objective).fit is not Objective.fit

    def _split(self, name: str) -> list[Item]:
        items = self.data.split(name)
        usable = [it for it in items if all(it.has(m) for m in self.plan.modalities)]
        if len(usable) < len(items):
            self.say(
                f"{name}: {len(items) - len(usable)} of {len(items)} items lack one of {', '.join(self.plan.modalities)}; skipped"
            )
        return usable

    def _raw(self, encoder: Encoder, value: Any) -> Any:
        return encoder.load_item(value) if isinstance(value, Path) else value

    def _fit_encoders(self) -> None:
        """Fit encoders with `needs_fit` on the training split's raw items (rank 0; others load
        its fitted state so every process featurizes alike)."""
        for m, enc in self.encoders.items():
            if not enc.needs_fit:
                continue
            shared = self.out / f".fitted-{m}.pt"
            if self.main:
                self.say(f"fitting {m}/{enc.name} on {len(self.train_items)} training items")
                enc.fit([self._raw(enc, getattr(it, m)) for it in self.train_items])
                if self.world > 1:
                    save_atomic(enc.state_dict(), shared)
            ddp.barrier()
            if not self.main:
                enc.load_state_dict(load_safe(shared))
            ddp.barrier()
            if self.main and self.world > 1:
                shared.unlink(missing_ok=True)

    def cache_dir(self) -> Path:
        s = self.settings
        if s.cache_dir is not None:
            return Path(s.cache_dir)
        default = self.data.root / ".cache"
        return default if _writable(default) else self.out / "cache"

    def _build_caches(self) -> None:
        folder = self.cache_dir()
        workers = self.settings.workers if self.settings.workers is not None else default_workers()
        self.workers = workers
        caches: dict[str, FeatureCache] = {}
        for m, enc in self.encoders.items():
            key = enc.feature_key()
            cache = FeatureCache(cache_path(folder, m, key), m, key, f"{m}/{enc.name}")
            cache.on_wait = self.say
            if self.main:
                srcs = sources(self.train_items + self.valid_items, m)
                with self._progress() as bar:
                    report = reporter(bar, f"features {m}/{enc.name}", terms="")
                    built = cache.ensure(enc, srcs, workers=workers, progress=report)
                for note in cache.notes:
                    self.say(note)
                self.say(f"features {m}/{enc.name}: {built} computed, {len(srcs) - built} from the cache {cache.path}")
            caches[m] = cache
        ddp.barrier()
        for cache in caches.values():
            cache.open_read()
        self.caches = caches
        self.train_data = SplitData([it.id for it in self.train_items], caches)
        self.valid_data = SplitData([it.id for it in self.valid_items], caches)
        self.train_lengths = self.train_data.lengths()
        # A fixed, evenly spread sample of the training split for the objective's fit before
        # each validation (only for objectives with something to fit).
        n_fit = min(self.settings.fit_sample, len(self.train_items))
        step = len(self.train_items) / n_fit if n_fit else 0
        self.fit_data = (
            SplitData([self.train_items[int(i * step)].id for i in range(n_fit)], caches)
            if self.objective_fits and n_fit
            else None
        )

    def _make_optimizers(self) -> Optimizers:
        s = self.settings
        groups = self.objective.parameter_groups()
        claimed = {id(p) for g in groups.values() for p in g["params"]}
        seen: set[int] = set()
        main: list[nn.Parameter] = []
        for p in [*(p for e in self.encoders.values() for p in e.trainable_parameters()), *self.objective.parameters()]:
            if p.requires_grad and id(p) not in claimed and id(p) not in seen:
                seen.add(id(p))
                main.append(p)
        if not main and self.plan.trainable:
            raise OptionError(
                f"nothing to train: the encoders ({', '.join(self.plan.modalities)}) and objective '{self.plan.objective.name}' "
                "have no trainable parameters"
            )
        optimizers: dict[str, torch.optim.Optimizer] = {}
        if main:
            optimizers["main"] = torch.optim.Adam(main, lr=s.lr, weight_decay=s.weight_decay)
        for name, group in groups.items():
            settings = {k: v for k, v in group.items() if k != "params"}
            settings.setdefault("lr", s.lr)
            optimizers[name] = torch.optim.Adam(group["params"], **settings)
        scaler = torch.amp.GradScaler("cuda") if self.amp else None
        return Optimizers(optimizers, scaler, s.clip_norm or None)

    def resolved_config(self) -> RunConfig:
        """The plan's config with absolute paths, the worker count and no `resume`."""
        s = self.settings
        return self.plan.config.replace(
            data=Path(s.data).resolve() if s.data else None,
            out=self.out,
            workers=self.workers,
            batch_size=self.batch_size,
            resume=None,
        )

    def _write_run_files(self) -> None:
        write_config(self.resolved_config(), self.out / rf.CONFIG)
        info_path = self.out / rf.INFO
        info = rf.read_json(info_path) if info_path.is_file() else {}
        comps = {
            m: {
                "name": c.name,
                "distribution": c.distribution,
                "version": c.version,
                "plugin": c.plugin,
                "feature_key": self.encoders[m].feature_key(),
            }
            for m, c in self.plan.encoders.items()
        }
        o = self.plan.objective
        comps["objective"] = {"name": o.name, "distribution": o.distribution, "version": o.version, "plugin": o.plugin}
        info.update(
            {
                "format": "ugaar-kit-run-folder",
                "format_version": 1,
                "run_id": self.run_id,
                "tool": "ugaar-kit",
                "tool_version": __version__,
                "torch_version": torch.__version__,
                "created": info.get("created") or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "status": "running",
                "data": str(Path(self.settings.data or "").resolve()),
                "dataset": self.data.identity(),
                "modalities": list(self.plan.modalities),
                "dims": dict(self.objective.dims),
                "shared_dim": int(self.objective.shared_dim),
                "components": comps,
                "items": {"train": len(self.train_items), "valid": len(self.valid_items)},
                "embed": info.get("embed")
                or rf.embed_window([it.audio for it in self.train_items if it.audio is not None]),
                "world_size": self.world,
                "device": str(self.device),
                "seed": self.settings.seed,
                "training": self.budget_info(),
            }
        )
        rf.write_json(info, info_path)

    # -- training -----------------------------------------------------------------------------
    def step(self, indices: list[int]) -> dict[str, float]:
        """One update on this process's rows `indices` of the training split; the loss terms."""
        # augmentation draws depend on (seed, step, rank) alone: same run, exact resume
        entropy = np.random.SeedSequence([self.settings.seed % 2**32, self.global_step, self.rank])
        generator = torch.Generator().manual_seed(int(entropy.generate_state(1, np.uint64)[0]) >> 1)
        inputs = self.train_data.batch(indices, self.encoders, self.device, generator)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.amp):
            views = {m: self.models[m](b) for m, b in inputs.items()}
        views = {m: z.float() for m, z in views.items()}
        return self.objective.training_step(views, self.optimizers)

    # -- schedule and budget ------------------------------------------------------------------
    @property
    def epochs_bounded(self) -> bool:
        """False when the run trains as many epochs as `max_time` allows (no `epochs` given)."""
        return self.settings.epochs is not None or self.settings.max_time is None

    @property
    def epochs_label(self) -> str:
        """The epoch count as progress shows it: `30`, or `?` under a budget alone."""
        return str(self.max_epochs) if self.epochs_bounded else "?"

    def batches_per_epoch(self) -> int:
        return len(self.train_items) // max(1, self.batch_size * self.world)

    def _plan_schedule(self) -> None:
        """The schedule's length, when it is known before training (no `max_time`)."""
        s = self.settings
        if s.max_time is None:
            self.schedule_steps = self.max_epochs * self.batches_per_epoch()
            self.warmup_steps = sched.warmup_for(self.schedule_steps, s.warmup)
        else:
            self.warmup_steps = int(s.warmup)  # provisional: shortened once the length is known

    def elapsed(self) -> float:
        """Seconds of training-loop time so far, this process and earlier ones of the run."""
        return self.clock() - self._clock_start

    def training_progress(self) -> float:
        """The schedule's progress in [0, 1]: 0 through the warm-up (and before a budgeted run
        has fixed its length), 1 at the planned end. It never goes back when a budget re-plans
        (the cosine continues from its anchor), and every process computes the same value."""
        if self.schedule_steps is None:
            return 0.0
        return sched.progress_at(self.global_step, self.schedule_steps, self.warmup_steps, self.schedule_anchor)

    def lr_factor(self) -> float:
        return sched.lr_factor(
            self.global_step, self.settings.schedule, self.schedule_steps, self.warmup_steps, self.schedule_anchor
        )

    def _set_lr(self) -> None:
        factor = self.lr_factor()
        for name, opt in self.optimizers.optimizers.items():
            for group, base in zip(opt.param_groups, self._base_lrs[name]):
                group["lr"] = base * factor

    def _measure(self) -> None:
        """Under `max_time`, fix the schedule's length from the time of the first steps."""
        s = self.settings
        if s.max_time is None or self.schedule_steps is not None:
            return
        if self._timed_from is None:
            if self.global_step >= sched.UNTIMED_STEPS:
                self._timed_from = (self.elapsed(), self.global_step)
            return
        since, first = self._timed_from
        if self.global_step - first < sched.MEASURE_STEPS - sched.UNTIMED_STEPS:
            return
        self.schedule_steps = self._steps_in_budget(self.elapsed() - since, self.global_step - first)
        if s.warmup:
            self.warmup_steps = max(sched.MEASURE_STEPS, sched.warmup_for(self.schedule_steps, s.warmup))
        if self.step_seconds is not None:
            self.say(
                f"budget {format_duration(float(s.max_time))}: {self.step_seconds:.3f} s a step, "
                f"schedule set at {self.schedule_steps} steps ({self.warmup_steps} of warm-up)"
            )

    def _steps_in_budget(self, seconds: float, steps: int) -> int:
        """The schedule's length if the rest of the budget runs at the rate of `steps` steps that
        took `seconds`; rank 0 measures, every process gets its answer."""
        s = self.settings
        assert s.max_time is not None
        total = 0
        if self.main:
            step_seconds = seconds / max(1, steps)
            eval_items = len(self.valid_items) + (len(self.fit_data) if self.fit_data is not None else 0)
            total = self.global_step + sched.budget_steps(
                float(s.max_time) - self.elapsed(),
                step_seconds,
                batch_size=self.batch_size * self.world,
                batches_per_epoch=self.batches_per_epoch(),
                eval_items=eval_items if self.valid_items else 0,
                valid_every=s.valid_every,
            )
            self.step_seconds = step_seconds
        return ddp.broadcast_int(total, self.device)

    def _replan(self, seconds: float, steps: int) -> None:
        """At an epoch's end under `max_time`: the schedule's length again from the training
        time of the epochs since the last re-plan (`seconds` for `steps` steps, validation not
        counted), the cosine continued from where it is (`sched.Anchor`), so the learning rate
        does not jump. Short epochs add up until they hold `MEASURE_STEPS` steps."""
        s = self.settings
        if s.max_time is None or self.schedule_steps is None:
            self._replan_window = (0.0, 0)
            return
        seconds, steps = self._replan_window[0] + seconds, self._replan_window[1] + steps
        if steps < sched.MEASURE_STEPS:
            self._replan_window = (seconds, steps)
            return
        self._replan_window = (0.0, 0)
        if self.elapsed() >= float(s.max_time):
            return
        old = self.schedule_steps
        new = max(self.global_step + 1, self._steps_in_budget(seconds, steps))
        if new == old:
            return
        if self.global_step > self.warmup_steps:
            progress = sched.progress_at(self.global_step, old, self.warmup_steps, self.schedule_anchor)
            self.schedule_anchor = sched.Anchor(self.global_step, progress)
        self.schedule_steps = new
        if self.step_seconds is not None and abs(new - old) > 0.02 * old:
            self.say(
                f"{self.step_seconds:.3f} s a step in the last epoch: schedule re-planned at {new} steps (was {old})"
            )

    def _time_is_up(self) -> bool:
        """True when the budget is spent or a budgeted cosine schedule has ended (rank 0 decides)."""
        s = self.settings
        if s.max_time is None:
            return False
        up = False
        if self.main:
            if self.elapsed() >= float(s.max_time):
                up, self.stopped = True, "max_time"
            elif s.schedule == "cosine" and self.schedule_steps is not None and self.global_step >= self.schedule_steps:
                up, self.stopped = True, "schedule"
        up = ddp.broadcast_flag(up, self.device)
        if up and self.stopped not in ("max_time", "schedule"):
            self.stopped = "max_time"  # another process: rank 0 decided
        return up

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training split (or until the budget is spent); loss terms averaged
        over the batches trained."""
        for model in self.models.values():
            model.train()
        self.objective.train()
        s = self.settings
        batches = bucket_batches(self.train_lengths, self.batch_size * self.world, s.seed, epoch, drop_last=True)
        sums: dict[str, float] = defaultdict(float)
        n = 0
        since, first = self.elapsed(), self.global_step
        with self._progress() as bar:
            task = bar.add_task(f"epoch {epoch + 1}/{self.epochs_label}", total=len(batches), terms="")
            for global_batch in batches:
                self._set_lr()
                self.objective.set_progress(self.training_progress())
                terms = self.step(shard(global_batch, self.rank, self.world))
                n += 1
                self.global_step += 1
                self.samples += len(global_batch)
                for k, v in terms.items():
                    sums[k] += v
                shown = "  ".join(f"{k} {sums[k] / n:.4g}" for k in sums)
                bar.update(task, advance=1, terms=shown)
                self._measure()
                if self._time_is_up():
                    break
            else:
                self._replan(self.elapsed() - since, self.global_step - first)
        return {k: v / max(1, n) for k, v in sums.items()}

    def encode_split(self, data: SplitData) -> dict[str, Tensor]:
        """Every encoder's `(N, D_m)` eval-mode outputs for a split's items."""
        return {m: data.encode(m, enc, self.batch_size, self.device) for m, enc in self.encoders.items()}

    def validate(self) -> dict[str, Any]:
        """Validation metrics: `valid` (per direction), `valid_mrr` (mean MRR), `valid_loss`."""
        if not self.valid_items:
            return {}
        from ..metrics import retrieval_metrics

        if self.fit_data is not None and self.plan.trainable:
            fit_views = self.encode_split(self.fit_data)
            self.objective.eval()
            with torch.no_grad():
                self.objective.fit(fit_views)
        views = self.encode_split(self.valid_data)
        self.objective.eval()
        try:
            with torch.no_grad():
                projected = {m: self.objective.project(m, z).float().cpu() for m, z in views.items()}
                losses = self.objective.validation_loss(views) if self.validation_loss_ok else {}
        finally:
            self.objective.train()
        groups = [f"{it.song}/{it.group}" if it.group is not None else None for it in self.valid_items]
        metrics = retrieval_metrics(projected, groups)
        self.valid_embeddings = projected
        out = {
            "valid": {d: {k: float(v) for k, v in row.items()} for d, row in metrics.items()},
            "valid_mrr": mean_mrr(metrics),
            "valid_loss": {k: float(v) for k, v in losses.items()},
        }
        if self.settings.select:
            out["valid_score"] = mean_mrr(metrics, self.settings.select)
        return out

    def model_state(self, epoch: int) -> dict[str, Any]:
        return ckpt.model_state(
            self.run_id,
            self.encoders,
            self.plan.encoders,
            self.objective,
            self.plan.objective,
            to_toml_dict(self.resolved_config()),
            epoch,
        )

    def _end_epoch(self, epoch: int, train_terms: dict[str, float], started: float, final: bool = False) -> bool:
        """Validate (unless `valid_every` says it is too soon; always when `final`), log,
        checkpoint (rank 0); True when training should stop early."""
        s = self.settings
        stop = False
        if self.main:
            due = final or s.valid_every is None or self.elapsed() - self._last_valid_at >= float(s.valid_every)
            valid: dict[str, Any] = {}
            if due:
                with local_only():
                    valid = self.validate()
                self._last_valid_at = self.elapsed()
            score = valid.get("valid_score", valid.get("valid_mrr", float("nan")))
            improved = due and (not self.valid_items or (np.isfinite(score) and score > self.best_score))
            if improved:
                self.best_score = float(score) if np.isfinite(score) else self.best_score
                self.best_epoch = epoch + 1
                self.since_best = 0
                ckpt.save(self.model_state(epoch + 1), self.out / rf.BEST)
            elif due:
                self.since_best += 1
            seconds = time.perf_counter() - started  # training and validation
            self.train_seconds = self.elapsed()
            row = {
                "epoch": epoch + 1,
                "train": train_terms,
                **valid,
                "best": bool(improved),
                "seconds": round(seconds, 3),
                "steps": self.global_step,
                "samples": self.samples,
                "lr": s.lr * self.lr_factor(),
                "elapsed": round(self.train_seconds, 3),
            }
            rf.append_row(self.out / rf.METRICS, row)
            self.rows.append(row)
            last = self.model_state(epoch + 1)
            last["optimizers"] = self.optimizers.state_dict()
            last["rng"] = ckpt.capture_rng()
            last["trainer"] = {
                "best_score": self.best_score,
                "best_epoch": self.best_epoch,
                "since_best": self.since_best,
                **self.budget_state(),
            }
            ckpt.save(last, self.out / rf.LAST)
            plot_curves(self.rows, self.out / rf.CURVES)
            self.say(self._summary(row))
            stop = bool(s.patience) and self.since_best >= s.patience and not final
            if stop:
                self.stopped = "patience"
                self.say(
                    f"no better validation MRR for {s.patience} epochs: stopping early (best: epoch {self.best_epoch})"
                )
        return ddp.broadcast_flag(stop, self.device)

    def budget_state(self) -> dict[str, Any]:
        """What a resumed run needs to keep the budget and the schedule (in `last.pt`)."""
        return {
            "train_seconds": self.train_seconds,
            "steps": self.global_step,
            "samples": self.samples,
            "schedule_steps": self.schedule_steps,
            "warmup_steps": self.warmup_steps,
            "step_seconds": self.step_seconds,
            "schedule_anchor": None if self.schedule_anchor is None else list(self.schedule_anchor),
            "last_valid_at": self._last_valid_at,
        }

    def budget_info(self) -> dict[str, Any]:
        """The `training` entry of `run.json`: budget, schedule, steps and samples seen, why it stopped."""
        s = self.settings
        return {
            "max_time": None if s.max_time is None else float(s.max_time),
            "train_seconds": round(self.train_seconds, 3),
            "steps": self.global_step,
            "samples": self.samples,
            "epochs_limit": self.max_epochs if self.epochs_bounded else None,
            "stopped": self.stopped or None,
            "schedule": {
                "name": s.schedule,
                "steps": self.schedule_steps,
                "warmup_steps": self.warmup_steps,
                "measured_step_seconds": self.step_seconds,
                "anchor": None if self.schedule_anchor is None else list(self.schedule_anchor),
            },
        }

    def _summary(self, row: Mapping[str, Any]) -> str:
        parts = [f"epoch {row['epoch']}/{self.epochs_label}"]
        parts += [f"{k} {v:.4g}" for k, v in row["train"].items()]
        if "valid_mrr" in row:
            dirs = ", ".join(f"{d} {v.get('MRR', float('nan')):.3f}" for d, v in row["valid"].items())
            parts.append(f"valid MRR {row['valid_mrr']:.4f} ({dirs})")
        if "valid_score" in row:
            parts.append(f"selected {row['valid_score']:.4f}")
        if row.get("best"):
            parts.append("best")
        if self.settings.max_time is not None:
            parts.append(
                f"step {row['steps']}  {format_duration(row['elapsed'])} of {format_duration(float(self.settings.max_time))}"
            )
        parts.append(f"{row['seconds']:.1f} s")
        return "  ".join(parts)

    def train(self) -> None:
        """The epochs from `start_epoch` to `epochs` (nothing for an objective with `trainable = False`)."""
        if not self.plan.trainable:
            self.say(f"objective '{self.plan.objective.name}' has nothing to train: fitting it on the training split")
            return
        s = self.settings
        self._clock_start = self.clock() - self.train_seconds
        if s.max_time is not None and self.train_seconds >= float(s.max_time):
            self.stopped = self.stopped or "max_time"
            self.say(f"the budget of {format_duration(float(s.max_time))} is spent: nothing left to train")
            return
        self.stopped = "epochs"
        for epoch in range(self.start_epoch, self.max_epochs):
            t0 = time.perf_counter()
            terms = self.train_epoch(epoch)
            out_of_time = self.stopped in ("max_time", "schedule")
            if self._end_epoch(epoch, terms, t0, final=out_of_time or epoch + 1 == self.max_epochs):
                break
            if out_of_time:
                if self.stopped == "max_time" and s.max_time is not None:
                    self.say(f"budget of {format_duration(float(s.max_time))} spent after {self.global_step} steps")
                break

    def finish(self) -> Path:
        """Best state, `objective.fit` on the training split, `model.pt`; returns its path."""
        model_path = self.out / rf.MODEL
        for h in self._hooks:  # from here on rank 0 works alone: no collectives
            h.remove()
        self._hooks = []
        if self.main:
            best = self.out / rf.BEST
            if self.plan.trainable and best.is_file():
                ckpt.load_into(ckpt.load(best), self.encoders, self.objective)
            if self.objective_fits:
                self.say(
                    f"fitting objective '{self.plan.objective.name}' on the {len(self.train_items)} training items"
                )
            with local_only():
                if self.objective_fits:
                    views = self.encode_split(self.train_data)
                    self.objective.eval()
                    self.objective.fit(views)
                self.final_valid = self.validate()
            ckpt.save(self.model_state(self.best_epoch), model_path)
            info = rf.read_json(self.out / rf.INFO)
            info.update(
                {
                    "status": "finished",
                    "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    "epochs_trained": len(self.rows),
                    "best_epoch": self.best_epoch,
                    "best_valid_mrr": self.best_score if np.isfinite(self.best_score) else None,
                    "training": self.budget_info(),
                    "final": self.final_valid,
                }
            )
            rf.write_json(info, self.out / rf.INFO)
            if self.final_valid:
                dirs = ", ".join(f"{d} {v.get('MRR', float('nan')):.3f}" for d, v in self.final_valid["valid"].items())
                self.say(f"final model: valid MRR {self.final_valid['valid_mrr']:.4f} ({dirs})")
            self.say(f"run {self.run_id} written to {self.out}")
        ddp.barrier()  # processes leave together: one tearing down gloo early can abort the other
        return model_path

    def close(self) -> None:
        for cache in getattr(self, "caches", {}).values():
            cache.close()
        for h in getattr(self, "_hooks", []):
            h.remove()
        self._hooks = []
        if hasattr(self, "models"):
            # DDP wrappers hold the process group and gloo work: free them while the group and
            # the interpreter are alive (freed later, at exit, they can abort the process)
            self.models = dict(self.encoders)
            gc.collect()
        if self._created_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self._created_group = False

    def run(self) -> Path:
        """Everything: prepare, train, finish. Returns the path of `model.pt`."""
        with self._closing():
            self.prepare()
            self.train()
            return self.finish()

    @contextlib.contextmanager
    def _closing(self) -> Iterator[None]:
        try:
            yield
        finally:
            self.close()


def train(config: RunConfig, registry: Registry, *, console: Console | None = None, progress: bool = True) -> Path:
    """Train a run as `ugaar-kit train` does; returns the run folder."""
    trainer = Trainer(config, registry, console=console, progress=progress)
    trainer.run()
    return trainer.out
