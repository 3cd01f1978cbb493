"""The training loop: encoders and an objective trained on a dataset folder into a run folder.

`Trainer(config, registry).run()` prepares (`prepare.py`: components resolved by `assemble`,
encoders fitted, feature caches built, optimizers), trains epoch by epoch (the objective's
`training_step` does the updates; `budget.py` keeps the steps, seconds and schedule),
validates (`selection.py`: retrieval MRR of `objective.project`ed embeddings, the best epoch,
early stopping), checkpoints (`checkpoint.Checkpoints`), then reloads the best state, calls
`objective.fit` on the whole training split and writes `model.pt` (`run_folder.py`).

The trainer knows no objective by name: it calls `training_step`, `validation_loss`,
`parameter_groups`, `fit` and `project` only.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import Progress
from torch import Tensor

from ugaar_kit.errors import InputError
from ugaar_kit.features.cache import default_workers
from ugaar_kit.infra import distributed as ddp
from ugaar_kit.infra.distributed import local_only
from ugaar_kit.infra.progress import progress_bar
from ugaar_kit.interfaces.objective import Objective
from ugaar_kit.interfaces.options import format_duration
from ugaar_kit.registry.components import Registry
from ugaar_kit.runfolder import checkpoint as ckpt
from ugaar_kit.runfolder import files as rf
from ugaar_kit.runfolder.config import RunConfig, to_toml_dict, write_config
from ugaar_kit.training import prepare as prep
from ugaar_kit.training.assemble import choose_batch_size
from ugaar_kit.training.budget import Budget
from ugaar_kit.training.curves import plot_curves
from ugaar_kit.training.loader import SplitData, epoch_batches, shard, song_run_for
from ugaar_kit.training.selection import Selection, project_views, validation_row


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
        self.rows: list[dict[str, Any]] = []
        self.final_valid: dict[str, Any] = {}
        self.valid_embeddings: dict[str, Tensor] = {}
        """`(N_valid, shared_dim)` per modality from the latest validation pass (CPU)."""
        self._created_group = False
        self._rng_state: dict[str, Any] | None = None
        s = self.settings
        self.budget = Budget.of(s, main=self.main, say=self.say)
        """Steps, seconds and the schedule's length (`budget.py`)."""
        self.selection = Selection(s.stop_patience)
        """The best epoch and early stopping (`selection.py`)."""

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
        self.budget.main = self.main
        self.out, self.data, self.plan = prep.plan_for(self.config, self.registry, self.say)
        mods = self.plan.modalities
        self.train_items = prep.usable_items(self.data, "train", mods, self.say)
        self.valid_items = prep.usable_items(self.data, "valid", mods, self.say)
        if not self.train_items:
            raise InputError(self.data.root, f"no training items (split 'train') with {', '.join(mods)}")
        if not self.valid_items:
            self.say("no validation split: the last epoch is kept as the best")
        self.song_run = song_run_for(s.song_run, self.train_items, self.say)

        resume_from, self.run_id = rf.open_for_training(self.out, s.resume is not None, main=self.main, say=self.say)
        resume_state = ckpt.load(resume_from) if resume_from is not None else None
        if resume_state is not None:
            self.run_id = str(resume_state["run_id"])

        ddp.seed_everything(s.seed)
        self.encoders, self.objective = prep.build_components(self.plan, resume_state)
        self.batch_size, note = choose_batch_size(
            self.objective,
            self.plan.objective.name,
            s.batch_size,
            world=self.world,
            train_items=len(self.train_items),
            trains=self.plan.trainable and self.budget.max_epochs > 0,
        )
        if note:
            self.say(note)
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
            # after every check, so a refused run does no work
            prep.fit_encoders(self.encoders, self.train_items, self.out, main=self.main, say=self.say)
        self.validation_loss_ok = prep.validation_loss_fits(self.objective, len(self.valid_items), self.say)
        self.checkpoints = ckpt.Checkpoints(
            self.out,
            self.run_id,
            self.encoders,
            self.plan.encoders,
            self.objective,
            self.plan.objective,
            lambda: to_toml_dict(self.resolved_config()),
        )

        self._build_caches()
        self.device = ddp.pick_device(s.device)
        self.autocast = ddp.autocast_dtype(self.device, bool(s.amp))
        if self.autocast == torch.bfloat16:
            self.say("mixed precision: bfloat16 on this CPU (--no-amp trains in float32)")
        self.models, self._hooks = ddp.place(dict(self.encoders), self.objective, self.device)
        self.optimizers = prep.make_optimizers(
            self.encoders,
            self.objective,
            self.plan,
            lr=s.lr,
            weight_decay=s.weight_decay,
            clip_norm=s.clip_norm,
            scale=self.autocast == torch.float16,
        )

        self._base_lrs = {k: [g["lr"] for g in opt.param_groups] for k, opt in self.optimizers.optimizers.items()}
        self.budget.share_int = functools.partial(ddp.broadcast_int, device=self.device)
        self.budget.share_flag = functools.partial(ddp.broadcast_flag, device=self.device)
        fitted = len(self.fit_data) if self.fit_data is not None else 0
        self.budget.plan(
            batch_rows=self.batch_size * self.world,
            batches_per_epoch=self.batches_per_epoch(),
            eval_items=len(self.valid_items) + fitted if self.valid_items else 0,
            fixed=resume_state is None or s.max_time is None,  # an epoch-bound length follows --epochs
        )
        if resume_state is not None:
            self.optimizers.load_state_dict(resume_state["optimizers"])
            self.start_epoch = int(resume_state["epoch"])
            self.selection.restore(resume_state["trainer"])
            self.budget.restore(resume_state["trainer"])
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

    def _build_caches(self) -> None:
        self.workers = self.settings.workers if self.settings.workers is not None else default_workers()
        self.caches = prep.build_caches(
            self.encoders,
            self.train_items + self.valid_items,
            prep.cache_folder(self.settings.cache_dir, self.data, self.out),
            workers=self.workers,
            main=self.main,
            bar=self._progress,
            say=self.say,
        )
        self.train_data = SplitData([it.id for it in self.train_items], self.caches)
        self.valid_data = SplitData([it.id for it in self.valid_items], self.caches)
        self.train_lengths = self.train_data.lengths()
        # a fixed, evenly spread sample of the training split for the objective's fit before
        # each validation (only for objectives with something to fit)
        sample = prep.spread_sample(self.train_items, self.settings.fit_sample) if self.objective_fits else []
        self.fit_data = SplitData(sample, self.caches) if sample else None

    def resolved_config(self) -> RunConfig:
        """The plan's config with absolute paths, the worker count and no `resume`."""
        s = self.settings
        return self.plan.config.replace(
            data=Path(s.data).resolve() if s.data else None,
            out=self.out,
            workers=self.workers,
            batch_size=self.batch_size,
            song_run=self.song_run,
            resume=None,
        )

    def _write_run_files(self) -> None:
        write_config(self.resolved_config(), self.out / rf.CONFIG)
        info_path = self.out / rf.INFO
        info = prep.started_info(
            rf.read_json(info_path) if info_path.is_file() else {},
            self.run_id,
            data=str(Path(self.settings.data or "").resolve()),
            dataset=self.data.identity(),
            modalities=list(self.plan.modalities),
            dims=dict(self.objective.dims),
            shared_dim=int(self.objective.shared_dim),
            components=prep.components(self.plan, self.encoders),
            items={"train": len(self.train_items), "valid": len(self.valid_items)},
            embed=lambda: rf.embed_window([it.audio for it in self.train_items if it.audio is not None]),
            world_size=self.world,
            device=str(self.device),
            precision=str(self.autocast or torch.float32).removeprefix("torch."),
            seed=self.settings.seed,
            training=self.budget.info(),
        )
        rf.write_json(info, info_path)

    # -- training -----------------------------------------------------------------------------
    def step(self, indices: list[int]) -> dict[str, float]:
        """One update on this process's rows `indices` of the training split; the loss terms."""
        # augmentation draws depend on (seed, step, rank) alone: same run, exact resume
        entropy = np.random.SeedSequence([self.settings.seed % 2**32, self.budget.steps, self.rank])
        generator = torch.Generator().manual_seed(int(entropy.generate_state(1, np.uint64)[0]) >> 1)
        inputs = self.train_data.batch(indices, self.encoders, self.device, generator)
        with torch.autocast(device_type=self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            views = {m: self.models[m](b) for m, b in inputs.items()}
        views = {m: z.float() for m, z in views.items()}
        return self.objective.training_step(views, self.optimizers)

    def batches_per_epoch(self) -> int:
        return len(self.train_items) // max(1, self.batch_size * self.world)

    def _set_lr(self) -> None:
        factor = self.budget.lr_factor()
        for name, opt in self.optimizers.optimizers.items():
            for group, base in zip(opt.param_groups, self._base_lrs[name]):
                group["lr"] = base * factor

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training split (or until the budget is spent); loss terms averaged
        over the batches trained."""
        for model in self.models.values():
            model.train()
        self.objective.train()
        s = self.settings
        batches = epoch_batches(
            self.train_lengths, self.train_items, self.batch_size * self.world, s.seed, epoch, self.song_run
        )
        sums: dict[str, float] = defaultdict(float)
        n = 0
        budget = self.budget
        since, first = budget.elapsed(), budget.steps
        with self._progress() as bar:
            task = bar.add_task(f"epoch {epoch + 1}/{budget.epochs_label}", total=len(batches), terms="")
            for global_batch in batches:
                self._set_lr()
                self.objective.set_progress(budget.progress())
                terms = self.step(shard(global_batch, self.rank, self.world))
                n += 1
                budget.stepped(len(global_batch))
                for k, v in terms.items():
                    sums[k] += v
                shown = "  ".join(f"{k} {sums[k] / n:.4g}" for k in sums)
                bar.update(task, advance=1, terms=shown)
                budget.measure()
                if budget.time_is_up():
                    break
            else:
                budget.replan(budget.elapsed() - since, budget.steps - first)
        return {k: v / max(1, n) for k, v in sums.items()}

    def encode_split(self, data: SplitData) -> dict[str, Tensor]:
        """Every encoder's `(N, D_m)` eval-mode outputs for a split's items."""
        return {m: data.encode(m, enc, self.batch_size, self.device) for m, enc in self.encoders.items()}

    def validate(self) -> dict[str, Any]:
        """Validation metrics: `valid` (per direction), `valid_mrr` (mean MRR), `valid_loss`."""
        if not self.valid_items:
            return {}
        if self.fit_data is not None and self.plan.trainable:
            fit_views = self.encode_split(self.fit_data)
            self.objective.eval()
            with torch.no_grad():
                self.objective.fit(fit_views)
        views = self.encode_split(self.valid_data)
        projected, losses = project_views(self.objective, views, with_loss=self.validation_loss_ok)
        self.valid_embeddings = projected
        groups = [f"{it.song}/{it.group}" if it.group is not None else None for it in self.valid_items]
        return validation_row(projected, groups, losses, self.settings.select)

    def _end_epoch(self, epoch: int, train_terms: dict[str, float], started: float, final: bool = False) -> bool:
        """Validate (unless `valid_every` says it is too soon; always when `final`), log,
        checkpoint (rank 0); True when training should stop early."""
        stop = False
        if self.main:
            budget, selection = self.budget, self.selection
            due = budget.validation_due(final)
            valid: dict[str, Any] = {}
            if due:
                with local_only():
                    valid = self.validate()
                budget.validated()
            score = valid.get("valid_score", valid.get("valid_mrr", float("nan")))
            improved = selection.update(epoch + 1, score, validated=due, has_valid=bool(self.valid_items))
            if improved:
                self.checkpoints.save(rf.BEST, epoch + 1)
            budget.epoch_ended()
            row = {
                "epoch": epoch + 1,
                "train": train_terms,
                **valid,
                "best": improved,
                "seconds": round(time.perf_counter() - started, 3),  # training and validation
                **budget.row(self.settings.lr),
            }
            rf.append_row(self.out / rf.METRICS, row)
            self.rows.append(row)
            trainer_state = {**selection.state(), **budget.state()}
            self.checkpoints.save(rf.LAST, epoch + 1, optimizers=self.optimizers.state_dict(), trainer=trainer_state)
            plot_curves(self.rows, self.out / rf.CURVES)
            self.say(rf.epoch_line(row, budget.epochs_label, budget.summary(row["elapsed"])))
            stop = selection.patience_spent and not final
            if stop:
                budget.stopped = "patience"
                self.say(
                    f"no better validation MRR for {selection.patience} epochs: stopping early "
                    f"(best: epoch {selection.best_epoch})"
                )
        return ddp.broadcast_flag(stop, self.device)

    def train(self) -> None:
        """The epochs from `start_epoch` to `epochs` (nothing for an objective with `trainable = False`)."""
        if not self.plan.trainable:
            self.say(f"objective '{self.plan.objective.name}' has nothing to train: fitting it on the training split")
            return
        budget = self.budget
        if not budget.start():
            self.say(f"the budget of {format_duration(float(budget.max_time or 0))} is spent: nothing left to train")
            return
        for epoch in range(self.start_epoch, budget.max_epochs):
            t0 = time.perf_counter()
            terms = self.train_epoch(epoch)
            out_of_time = budget.out_of_time
            if self._end_epoch(epoch, terms, t0, final=out_of_time or epoch + 1 == budget.max_epochs):
                break
            if out_of_time:
                if budget.stopped == "max_time" and budget.max_time is not None:
                    self.say(f"budget of {format_duration(budget.max_time)} spent after {budget.steps} steps")
                break

    def finish(self) -> Path:
        """Best state, `objective.fit` on the training split, `model.pt`; returns its path."""
        model_path = self.out / rf.MODEL
        for h in self._hooks:  # from here on rank 0 works alone: no collectives
            h.remove()
        self._hooks = []
        if self.main:
            if self.plan.trainable:
                self.checkpoints.restore(rf.BEST)
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
            self.checkpoints.save(rf.MODEL, self.selection.best_epoch)
            rf.mark_finished(
                self.out,
                epochs_trained=len(self.rows),
                best_epoch=self.selection.best_epoch,
                best_valid_mrr=self.selection.best_valid_mrr,
                training=self.budget.info(),
                final=self.final_valid,
            )
            if self.final_valid:
                self.say(f"final model: {rf.valid_mrr_line(self.final_valid)}")
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
            self.models = dict(self.encoders)  # the DDP wrappers go first (see ddp.release)
        ddp.release(self._created_group)
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
