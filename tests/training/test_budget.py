"""`--max-time` and the learning-rate schedule: the budget stops the loop within one step, is
total across resumes, a stopped run is complete; bad budgets are refused. Time is a fake clock
that advances one second a training step, so nothing here depends on the machine's speed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from rich.console import Console
from typer.testing import CliRunner

from ugaar_kit import Run
from ugaar_kit.cli.app import build_app
from ugaar_kit.errors import OptionError
from ugaar_kit.interfaces.options import parse_duration
from ugaar_kit.retrieval.evaluation import evaluate
from ugaar_kit.runfolder.config import DEFAULT_PATIENCE, RunConfig, TrainSettings, merge
from ugaar_kit.training import schedule as sched
from ugaar_kit.training.trainer import Trainer

QUIET = Console(quiet=True)
NAMES = {"audio": "tiny", "sheet": "cnn", "objective": "infonce"}
SECONDS_A_STEP = 1.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def budget_trainer(registry, data: Path, out: Path, **settings) -> Trainer:
    values = {"data": data, "out": out, "batch_size": 8, "workers": 0, "lr": 1e-2, **settings}
    trainer = Trainer(merge(RunConfig(), values, NAMES), registry, console=QUIET)
    clock = FakeClock()
    trainer.budget.clock = clock
    step = trainer.step

    def timed_step(indices):
        clock.now += SECONDS_A_STEP
        return step(indices)

    trainer.step = timed_step  # type: ignore[method-assign]
    return trainer


def rows_of(run: Path) -> list[dict]:
    return [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]


def final_state(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run / "model.pt", weights_only=True)
    return {f"{m}/{k}": v for m, e in state["encoders"].items() for k, v in e["state_dict"].items()}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("900", 900), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("1h 30m 10s", 5410), ("2.5m", 150), (45, 45)],
)
def test_durations_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "0", "0s", "-5m", "15 minutes", "m", "", "1h30", True])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("budget", ["nan", "inf", "0", "-1m", "soon"])
def test_the_cli_refuses_a_bad_budget_in_one_line_and_creates_nothing(registry, tiny_data, tmp_path, budget):
    out = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(tiny_data),
        "--out",
        str(out),
        "--audio",
        "tiny",
        "--sheet",
        "cnn",
        "--objective",
        "infonce",
    ]
    result = CliRunner().invoke(build_app(registry), [*args, "--max-time", budget])
    assert result.exit_code != 0
    assert "max_time" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not out.exists()


def test_the_budget_stops_within_one_step_and_the_run_is_complete(registry, tiny_data, tmp_path):
    run = tmp_path / "run"
    budget_trainer(registry, tiny_data, run, max_time="10.5s").run()  # 32 items: 4 steps an epoch
    info = json.loads((run / "run.json").read_text())
    training = info["training"]
    # the step in flight when the budget ran out (the 11th, at 11 s) ends, then no other starts
    assert training["steps"] == 11 and training["samples"] == 88
    assert training["stopped"] == "max_time" and training["max_time"] == 10.5
    assert info["status"] == "finished" and info["final"]["valid_mrr"] > 0
    rows = rows_of(run)
    assert [r["steps"] for r in rows] == [4, 8, 11]
    assert all("valid" in r for r in rows)  # the cut epoch is validated too
    assert info["best_epoch"] == max(rows, key=lambda r: r["valid_mrr"])["epoch"]
    for name in ("config.toml", "model.pt", "best.pt", "last.pt", "curves.png"):
        assert (run / name).is_file(), name
    # a run stopped by the budget loads and evaluates like any other
    result = evaluate(Run.load(run, registry), tiny_data, split="valid", registry=registry)
    assert result["directions"]["audio->sheet"]["MRR"] == pytest.approx(info["final"]["valid"]["audio->sheet"]["MRR"])


def test_the_budget_is_total_across_resume(registry, tiny_data, tmp_path):
    budget_trainer(registry, tiny_data, tmp_path / "a", max_time="10.5s").run()
    budget_trainer(registry, tiny_data, tmp_path / "b", max_time="10.5s", epochs=1).run()  # stops at 4 steps
    assert json.loads((tmp_path / "b" / "run.json").read_text())["training"]["train_seconds"] == 4.0
    resumed = budget_trainer(registry, tiny_data, tmp_path / "b", resume=tmp_path / "b", epochs=100, max_time="10.5s")
    resumed.run()
    training = json.loads((tmp_path / "b" / "run.json").read_text())["training"]
    assert training["steps"] == 11 and training["train_seconds"] == 11.0
    a, b = final_state(tmp_path / "a"), final_state(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a spent budget trains nothing more
    again = budget_trainer(registry, tiny_data, tmp_path / "b", resume=tmp_path / "b", epochs=100, max_time="10.5s")
    again.run()
    assert json.loads((tmp_path / "b" / "run.json").read_text())["training"]["steps"] == 11


def test_a_budgeted_schedule_is_fixed_from_the_measured_rate_and_ends_the_run(registry, tiny_data, tmp_path):
    run = tmp_path / "run"
    budget_trainer(registry, tiny_data, run, max_time="60s", warmup=4).run()
    training = json.loads((run / "run.json").read_text())["training"]
    assert training["schedule"]["measured_step_seconds"] == pytest.approx(SECONDS_A_STEP)
    steps = training["schedule"]["steps"]
    # 60 s at 1 s a step, less the validations' share (12 items at a third of a step's 8)
    assert 50 <= steps < 60
    assert training["steps"] == steps and training["stopped"] == "schedule"
    assert training["schedule"]["warmup_steps"] == sched.MEASURE_STEPS  # never before the rate is known
    assert rows_of(run)[-1]["lr"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("before", "after", "measure"),
    [
        (1.0, 0.25, 4),  # epochs of 4 steps are long enough to time
        (0.25, 1.0, 4),
        (1.0, 0.25, 10),  # too short: three epochs make one re-plan (the demo's 22-step epochs)
        (0.25, 1.0, 10),
    ],
)
def test_a_machine_that_changes_speed_still_spends_the_budget_and_anneals(
    registry, tiny_data, tmp_path, monkeypatch, before, after, measure
):
    """The rate changes after 12 steps (another job ends, or starts): the schedule is re-planned at
    the end of every epoch, or of as many epochs as hold `MEASURE_STEPS` steps, so the run neither
    ends with budget left nor stops before its decay, and the learning rate never jumps."""
    monkeypatch.setattr(sched, "MEASURE_STEPS", measure)
    monkeypatch.setattr(sched, "UNTIMED_STEPS", 1)
    run = tmp_path / "run"
    budget = 40.0
    trainer = budget_trainer(registry, tiny_data, run, max_time=f"{budget}s", warmup=2)
    clock, step = trainer.budget.clock, trainer.step
    factors: list[float] = []
    progress: list[float] = []

    def changing_step(indices):
        factors.append(trainer.budget.lr_factor())
        progress.append(trainer.objective.progress)
        clock.now += (before if trainer.budget.steps < 12 else after) - SECONDS_A_STEP
        return step(indices)

    trainer.step = changing_step  # type: ignore[method-assign]
    trainer.run()
    training = json.loads((run / "run.json").read_text())["training"]
    assert training["stopped"] == "schedule"
    assert training["train_seconds"] >= 0.85 * budget  # fixed from the first steps: 17 s or 40 s cut short
    assert training["schedule"]["anchor"] is not None
    assert factors[-1] < 0.05 and rows_of(run)[-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    decay = factors[trainer.budget.warmup_steps :]
    assert all(a >= b for a, b in zip(decay, decay[1:]))  # still decaying, never back up
    assert max(a - b for a, b in zip(decay, decay[1:])) < 0.2  # and without a jump
    # what the objective is told of the run's progress (two-stage objectives switch on it) never
    # goes back when the schedule is re-planned, and ends near 1
    assert progress[0] == 0.0 and all(a <= b for a, b in zip(progress, progress[1:])) and progress[-1] > 0.9


def test_a_replanned_cosine_continues_from_its_anchor():
    anchor = sched.Anchor(50, sched.progress_at(50, 100, 10))
    assert anchor.progress == pytest.approx(40 / 90)
    # the same factor at the anchor whatever the new length, then down to 0 at the new end
    for total in (60, 100, 400):
        assert sched.lr_factor(50, "cosine", total, 10, anchor) == pytest.approx(sched.lr_factor(50, "cosine", 100, 10))
        assert sched.lr_factor(total, "cosine", total, 10, anchor) == pytest.approx(0.0, abs=1e-12)
    # halfway through the rest of a longer schedule is halfway through the rest of the old one
    assert sched.lr_factor(225, "cosine", 400, 10, anchor) == pytest.approx(sched.lr_factor(75, "cosine", 100, 10))


def test_valid_every_skips_validations_but_keeps_the_last(registry, tiny_data, tmp_path):
    run = tmp_path / "run"
    budget_trainer(registry, tiny_data, run, epochs=5, valid_every="10s").run()
    rows = rows_of(run)
    assert [("valid" in r) for r in rows] == [False, False, True, False, True]  # at 12 s and the last (20 s)


def test_cosine_warms_up_then_decays_to_zero():
    factors = [sched.lr_factor(k, "cosine", 100, 10) for k in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert factors[10] == pytest.approx(1.0) and all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert factors[55] == pytest.approx(0.5) and sched.lr_factor(100, "cosine", 100, 10) == 0.0
    assert sched.lr_factor(5, "constant", 100, 10) == 1.0
    assert sched.warmup_for(100, 100) == 10 and sched.warmup_for(10_000, 100) == 100


def test_budget_steps_leave_room_for_the_validations():
    plain = sched.budget_steps(100.0, 1.0, batch_size=8, batches_per_epoch=4, eval_items=0, valid_every=None)
    assert plain == 100
    # a validation of 24 items costs 3 batches at a third of a step: 1 s an epoch of 4 steps
    assert sched.budget_steps(100.0, 1.0, batch_size=8, batches_per_epoch=4, eval_items=24, valid_every=None) == 80
    rarer = sched.budget_steps(100.0, 1.0, batch_size=8, batches_per_epoch=4, eval_items=24, valid_every=40.0)
    assert rarer == math.floor(100 / (1 + 1 / 40))


def test_an_old_run_folder_resumes_with_the_constant_schedule(tmp_path):
    from ugaar_kit.runfolder.config import resolve_config

    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.toml").write_text('data = "d"\nepochs = 3\n[audio]\nname = "tiny"\n', encoding="utf-8")
    cfg = resolve_config(None, {"resume": folder}, {}, {}, ("audio", "sheet", "lyrics", "objective"))
    assert cfg.settings.schedule == "constant"
    assert RunConfig().settings.schedule == "cosine"


def test_non_finite_numbers_are_refused_as_options():
    from ugaar_kit.interfaces import options as opts
    from ugaar_kit.runfolder.config import TrainSettings

    for value in ("nan", "inf", float("nan")):
        with pytest.raises(OptionError, match="finite"):
            opts.build(TrainSettings, {"lr": value})


def test_budgeted_cosine_run_spends_its_budget_unless_given_a_patience(registry, tiny_data, tmp_path):
    # lr 0: no epoch after the first validates better, which would end a run of patience 10 at epoch 11
    trainer = budget_trainer(registry, tiny_data, tmp_path / "a", max_time="60s", lr=0.0)
    assert trainer.selection.patience == 0
    trainer.run()
    # 60 one-second steps, 4 an epoch, until the budget or the schedule planned within it ends
    assert len(rows_of(tmp_path / "a")) > 1 + DEFAULT_PATIENCE
    assert json.loads((tmp_path / "a" / "run.json").read_text())["training"]["stopped"] in ("max_time", "schedule")
    budget_trainer(registry, tiny_data, tmp_path / "b", max_time="60s", lr=0.0, patience=2).run()
    assert len(rows_of(tmp_path / "b")) == 3
    assert json.loads((tmp_path / "b" / "run.json").read_text())["training"]["stopped"] == "patience"


def test_patience_defaults():
    assert TrainSettings().stop_patience == DEFAULT_PATIENCE == 10
    assert TrainSettings(max_time=60.0).stop_patience == 0
    assert TrainSettings(max_time=60.0, schedule="constant").stop_patience == DEFAULT_PATIENCE
    assert TrainSettings(max_time=60.0, patience=3).stop_patience == 3
    assert TrainSettings(patience=0).stop_patience == 0
