"""Running quality cells for real (the trainer and `evaluate` on a tiny dataset): a finished cell
is never recomputed, an interrupted one resumes to the uninterrupted result, training beats
the untrained model."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import quality
from quality import ASL, Cell

from ugaar_kit.registry.components import Registry
from ugaar_kit.testing.parts import TinyTri

BUDGET = quality.Budget(epochs=10, batch_size=8, lr=1e-2, patience=0, dim=16)
STOP = {"after_steps": None, "steps": 0}
"""When `after_steps` is set, `StoppingTri` raises KeyboardInterrupt once it has taken that
many steps, as a user's Ctrl-C would in the middle of an epoch."""


class StoppingTri(TinyTri):
    name = "tri-stop"
    description = "tiny three-modality InfoNCE that can be interrupted mid-epoch, for tests"

    def training_step(self, views, optimizers):
        STOP["steps"] += 1
        if STOP["after_steps"] is not None and STOP["steps"] > STOP["after_steps"]:
            STOP["after_steps"] = None
            raise KeyboardInterrupt
        return super().training_step(views, optimizers)


class SmallBatchTri(TinyTri):
    name = "tri-small"
    description = "tiny three-modality InfoNCE whose default batch fits the tiny dataset, for tests"
    default_batch = 8


@pytest.fixture
def reg(registry: Registry) -> Registry:
    registry.add(StoppingTri, "bench-tests", "1.0", "test_quality_run")
    registry.add(SmallBatchTri, "bench-tests", "1.0", "test_quality_run")
    return registry


def context(data: Path, root: Path, reg: Registry) -> quality.Context:
    ctx = quality.Context(
        data=data,
        registry=reg,
        budget=BUDGET,
        root=root,
        pool=12,
        draws=3,
        encoders={"audio": "tiny", "sheet": "cnn"},
        workers=0,
    )
    ctx.dataset = quality.dataset_summary(data)
    return ctx


def cell(variant: str = "base") -> Cell:
    return Cell("tri-stop", ASL, "bag", variant, 0)


def test_a_cell_runs_once_and_is_never_recomputed(split_data: Path, tmp_path: Path, reg: Registry) -> None:
    ctx = context(split_data, tmp_path / "quality", reg)
    said: list[str] = []
    result = quality.run_cell(cell(), ctx, say=said.append)
    folder = tmp_path / "quality" / "tri-stop-asl-bag-s0"
    assert quality.cell_state(folder) == "done"
    on_disk = json.loads((folder / quality.RESULT).read_text())
    assert on_disk == result
    assert set(result["figures"]["directions"]) == {
        f"{q}->{c}" for q, c in itertools.permutations(("audio", "sheet", "lyrics"), 2)
    }
    assert result["evaluation"]["pool"] == 12 and result["figures"]["directions"]["audio->sheet"]["pool"] == 12
    assert set(result["figures"]["baselines"]["syllable_count"]) >= {"lyrics->audio", "audio->lyrics"}
    assert result["train"]["epochs_trained"] == 10 and not result["train"]["resumed"]
    assert result["budget"]["epochs"] == 10 and result["budget"]["dim"] == 16
    assert result["train"]["dims"] == {
        "audio": 16,
        "sheet": 16,
        "lyrics": 16,
    }  # the budget's width reached every encoder
    assert result["dataset"]["splits"]["test"] == {"items": 16, "songs": 16, "candidates": 16}
    steal = result["machine"]["cpu_steal_percent"]  # what the host took while the cell trained
    assert steal is None or 0.0 <= steal <= 100.0

    model = folder / "run" / "model.pt"
    stamps = (model.stat().st_mtime_ns, (folder / quality.RESULT).stat().st_mtime_ns)
    said.clear()
    assert quality.run_cell(cell(), ctx, say=said.append) == result
    assert said == []  # neither trained nor evaluated
    assert (model.stat().st_mtime_ns, (folder / quality.RESULT).stat().st_mtime_ns) == stamps

    # a trained cell whose result is lost is evaluated again, not retrained
    (folder / quality.RESULT).unlink()
    assert quality.cell_state(folder) == "trained"
    again = quality.run_cell(cell(), ctx, say=said.append)
    assert again["train"]["skipped"] and not any("training" in s for s in said)
    assert model.stat().st_mtime_ns == stamps[0]
    assert again["figures"] == result["figures"]

    # training beats the same model untrained (0 epochs) on the same pools, by a clear margin
    untrained = quality.run_cell(cell("random"), ctx)
    assert untrained["train"]["epochs_trained"] == 0
    chance = result["figures"]["directions"]["audio->sheet"]["chance_MRR"]  # 0.259 for a pool of 12

    def mean_mrr(r: dict) -> float:
        return sum(d["MRR"] for d in r["figures"]["directions"].values()) / 6

    assert mean_mrr(untrained) < chance + 0.05, mean_mrr(untrained)  # measured: 0.25
    assert mean_mrr(result) > mean_mrr(untrained) + 0.15, (mean_mrr(result), mean_mrr(untrained))  # measured: 0.49


def test_an_interrupted_cell_resumes_to_the_uninterrupted_result(
    split_data: Path, tmp_path: Path, reg: Registry
) -> None:
    straight = quality.run_cell(cell(), context(split_data, tmp_path / "straight", reg))

    ctx = context(split_data, tmp_path / "quality", reg)
    folder = tmp_path / "quality" / cell().name
    STOP.update(after_steps=7, steps=0)  # 5 steps an epoch: stopped in the middle of the second
    with pytest.raises(KeyboardInterrupt):
        quality.run_cell(cell(), ctx)
    assert quality.cell_state(folder) == "interrupted"
    run_id = json.loads((folder / "run" / "run.json").read_text())["run_id"]

    resumed = quality.run_cell(cell(), ctx)
    assert resumed["train"]["resumed"] and resumed["train"]["run_id"] == run_id
    rows = (folder / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == list(range(1, 11))
    assert resumed["figures"]["directions"] == straight["figures"]["directions"]


def test_a_failing_cell_is_recorded_and_retried(
    split_data: Path, tmp_path: Path, reg: Registry, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(quality, "QUALITY", tmp_path / "quality")
    monkeypatch.setattr(quality, "grid", lambda seeds=quality.SEEDS: [Cell("nosuch", ASL, "bag")])
    monkeypatch.setattr("ugaar_kit.registry.discovery.get_registry", lambda: reg)
    code = quality.main(["--data", str(split_data), "--keep-going"])
    assert code == 1
    folder = tmp_path / "quality" / "nosuch-asl-bag-s0"
    assert quality.cell_state(folder) == "failed"
    assert "PluginError: unknown audio encoder 'cnn'" in (folder / quality.ERROR).read_text()
    assert "nosuch-asl-bag-s0 failed: PluginError" in capsys.readouterr().out
    # the next invocation tries it again (and records the new failure)
    (folder / quality.ERROR).write_text("old")
    assert quality.main(["--data", str(split_data)]) == 1
    assert "PluginError" in (folder / quality.ERROR).read_text()


def test_a_cell_under_a_wall_clock_budget_trains_at_the_defaults_and_records_the_command(
    split_data: Path, tmp_path: Path, reg: Registry
) -> None:
    ctx = context(split_data, tmp_path / "quality", reg)
    ctx.time_budgets = {"2s": quality.TimeBudget("2s")}
    timed = Cell("tri-small", ASL, "bag", "base", 0, "2s")
    result = quality.run_cell(timed, ctx)
    assert timed.name == "tri-small-asl-bag-2s-s0"
    training = result["train"]["training"]
    assert training["max_time"] == 2.0 and training["steps"] >= 1
    assert training["stopped"] in ("max_time", "schedule", "epochs", "patience")
    assert result["budget"] == {"max_time": "2s", "songs": 200, "threads": None, "epochs": None}
    assert result["command"].startswith("ugaar-kit train --data ")
    assert result["command"].endswith(
        "--objective tri-small --audio tiny --sheet cnn --lyrics bag --max-time 2s --seed 0"
    )
    # the encoders kept their defaults: no width of the 0.1 budget reached them
    assert result["train"]["dims"]["sheet"] == reg.get("encoder", "cnn", "sheet").options_class().dim != BUDGET.dim
    assert set(result["figures"]["directions"]) >= {"audio->sheet", "sheet->audio"}


def test_cpu_steal_is_the_share_of_ticks_the_host_took(tmp_path: Path) -> None:
    from records import cpu_times, steal_percent

    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 50 800 10 0 0 40 0 0\ncpu0 50 0 25 400 5 0 0 20 0 0\n", encoding="ascii")
    before = cpu_times(stat)
    assert before == [100, 0, 50, 800, 10, 0, 0, 40]
    stat.write_text("cpu  160 0 70 890 10 0 0 70 0 0\n", encoding="ascii")
    assert steal_percent(before, cpu_times(stat)) == 15.0  # 30 of 200 ticks
    assert steal_percent(before, before) is None and steal_percent(None, before) is None
    stat.write_text("intr 5\n", encoding="ascii")
    assert cpu_times(stat) is None and cpu_times(tmp_path / "absent") is None
