"""The trainer end to end on the tiny dataset: learning, checkpoints, resume, Run API."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf
import torch
from rich.console import Console
from typer.testing import CliRunner

from ugaar_kit import Run
from ugaar_kit.cli.app import build_app
from ugaar_kit.errors import OptionError
from ugaar_kit.interfaces.dataset import DatasetFolder
from ugaar_kit.runfolder.config import RunConfig, merge
from ugaar_kit.testing.parts import TinyAudio, TinyInfoNCE, TinyLyrics
from ugaar_kit.training.trainer import Trainer

QUIET = Console(quiet=True)


def make_trainer(registry, data: Path, out: Path, names: dict[str, str], **settings) -> Trainer:
    values = {"data": data, "out": out, "batch_size": 8, "workers": 0, "lr": 1e-2, "epochs": 2, **settings}
    overrides = values.pop("overrides", {})
    return Trainer(merge(RunConfig(), values, names, overrides), registry, console=QUIET)


def test_training_lowers_loss_and_retrieval_beats_chance(registry, tiny_data, tmp_path):
    names = {"audio": "tiny", "lyrics": "bag", "objective": "tri"}
    trainer = make_trainer(registry, tiny_data, tmp_path / "run", names, epochs=10)
    trainer.run()
    rows = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 11))
    first, last = rows[0]["train"]["objective"], rows[-1]["train"]["objective"]
    assert last < 0.85 * first, (first, last)  # measured: 2.15 -> 1.51
    directions = rows[0]["valid"]
    assert len(directions) == 6 and directions["audio->sheet"]["pool"] == 12
    chance = directions["audio->sheet"]["chance_MRR"]  # 0.259 for a pool of 12
    best = max(r["valid_mrr"] for r in rows)
    assert best > chance + 0.15, (best, chance)  # measured: 0.52
    assert sum(r["best"] for r in rows) >= 2
    best_row = max(rows, key=lambda r: r["valid_mrr"])
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["best_epoch"] == best_row["epoch"]
    assert info["best_valid_mrr"] == pytest.approx(best_row["valid_mrr"])
    # embed's default window: the training passages' median duration, hopping by half
    durations = sorted(sf.info(str(p)).duration for p in (tiny_data / "audio").glob("*.wav"))
    assert 1.0 <= info["embed"]["window"] <= 30.0 and info["embed"]["hop"] == info["embed"]["window"] / 2
    assert abs(info["embed"]["window"] - durations[len(durations) // 2]) <= 0.5 + 1e-9 or info["embed"]["window"] == 1.0
    for row in rows:
        assert {"epoch", "train", "valid", "valid_mrr", "valid_loss", "seconds", "best"} <= set(row)
        assert "objective" in row["valid_loss"]


def test_select_picks_the_best_epoch_on_the_given_directions(registry, tiny_data, tmp_path):
    names = {"audio": "tiny", "lyrics": "bag", "objective": "tri"}
    select = ("audio->sheet", "sheet->audio")
    make_trainer(registry, tiny_data, tmp_path / "run", names, epochs=6, select=select).run()
    rows = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        pair = (row["valid"]["audio->sheet"]["MRR"] + row["valid"]["sheet->audio"]["MRR"]) / 2
        assert row["valid_score"] == pytest.approx(pair)
    running = float("-inf")
    for row in rows:  # an epoch is "best" exactly when it beats every earlier selected score
        assert row["best"] == (row["valid_score"] > running), row["epoch"]
        running = max(running, row["valid_score"])
    best_row = max(rows, key=lambda r: r["valid_score"])
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["best_epoch"] == best_row["epoch"]
    assert info["best_valid_mrr"] == pytest.approx(best_row["valid_score"])
    assert 'select = [\n    "audio->sheet",\n    "sheet->audio",\n]' in (tmp_path / "run" / "config.toml").read_text()


def test_select_refuses_a_direction_the_run_does_not_have(registry, tiny_data, tmp_path):
    with pytest.raises(OptionError, match=r"select: 'audio->lyrics' is not a direction of this run \(directions: "):
        make_trainer(
            registry, tiny_data, tmp_path / "run", {"audio": "tiny", "objective": "infonce"}, select=("audio->lyrics",)
        ).prepare()
    assert not (tmp_path / "run").exists()


def test_checkpoints_load_with_weights_only_and_rebuild(registry, tiny_data, tmp_path):
    run = tmp_path / "run"
    trainer = make_trainer(registry, tiny_data, run, {"audio": "tiny", "objective": "infonce"})
    trainer.run()
    for name in ("model.pt", "best.pt", "last.pt"):
        state = torch.load(run / name, weights_only=True)
        assert state["format"] == "ugaar-kit-run" and state["format_version"] == 1
        assert state["run_id"] == trainer.run_id
        assert set(state["encoders"]) == {"audio", "sheet"}
        assert (
            state["encoders"]["audio"]["name"] == "tiny" and state["encoders"]["audio"]["distribution"] == "tiny-tests"
        )
        assert state["objective"]["name"] == "infonce" and state["objective"]["dims"] == {"audio": 8, "sheet": 8}
        assert state["config"]["audio"]["name"] == "tiny"
    last = torch.load(run / "last.pt", weights_only=True)
    assert {"optimizers", "rng", "trainer"} <= set(last)
    assert last["epoch"] == 2
    loaded = Run.load(run, registry)
    assert loaded.run_id == trainer.run_id == json.loads((run / "run.json").read_text())["run_id"]
    assert loaded.modalities == ("audio", "sheet")
    for m, enc in trainer.encoders.items():
        for k, v in enc.state_dict().items():
            if isinstance(v, torch.Tensor):
                assert torch.equal(v, loaded.encoders[m].state_dict()[k]), (m, k)
    assert loaded.config.settings.batch_size == 8
    assert loaded.config.components["audio"].name == "tiny"


def final_states(run: Path) -> dict[str, torch.Tensor]:
    out = {}
    for name in ("last.pt", "model.pt"):
        state = torch.load(run / name, weights_only=True)
        for m, enc in state["encoders"].items():
            for k, v in enc["state_dict"].items():
                out[f"{name}/{m}/{k}"] = v
        for k, v in state["objective"]["state_dict"].items():
            out[f"{name}/objective/{k}"] = v
        if name == "last.pt":
            for group, opt in state["optimizers"].items():
                for pid, st in opt["state"].items():
                    for k, v in st.items():
                        out[f"optim/{group}/{pid}/{k}"] = v
    return out


def test_resume_equals_uninterrupted(registry, tiny_data, tmp_path):
    common = [
        "--data",
        tiny_data,
        "--audio",
        "tiny",
        "--lyrics",
        "bag",
        "--objective",
        "tri",
        "--batch-size",
        "8",
        "--workers",
        "0",
        "--lr",
        "0.01",
        "--seed",
        "3",
        "-o",
        "audio.dropout=0.3",
        "--schedule",
        "constant",  # a cosine schedule follows --epochs, so 1 epoch then 3 differs from 3 by design
    ]
    runner = CliRunner(env={"COLUMNS": "250"})
    app = build_app(registry)
    straight = runner.invoke(app, ["train", *map(str, common), "--out", str(tmp_path / "a"), "--epochs", "3"])
    assert straight.exit_code == 0, straight.output
    part = runner.invoke(app, ["train", *map(str, common), "--out", str(tmp_path / "b"), "--epochs", "1"])
    assert part.exit_code == 0, part.output
    refused = runner.invoke(app, ["train", "--resume", str(tmp_path / "b"), "--lr", "0.5"])
    assert "cannot change 'lr' when resuming (the run has 0.01, given 0.5)" in refused.output
    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "b"), "--epochs", "3"])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming" in resumed.output

    a, b = final_states(tmp_path / "a"), final_states(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) > 20
    different = [k for k in a if not (torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k])]
    assert not different, different[:5]
    rows_a = [json.loads(r) for r in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    rows_b = [json.loads(r) for r in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows_b] == [1, 2, 3]
    for ra, rb in zip(rows_a, rows_b):
        assert (ra["train"], ra["valid"], ra["best"]) == (rb["train"], rb["valid"], rb["best"])
    info_a = json.loads((tmp_path / "a" / "run.json").read_text())
    info_b = json.loads((tmp_path / "b" / "run.json").read_text())
    assert info_a["final"] == info_b["final"]


def test_run_embed_equals_validation_pass(registry, tiny_data, tmp_path):
    run = tmp_path / "run"
    trainer = make_trainer(registry, tiny_data, run, {"audio": "tiny", "lyrics": "bag", "objective": "tri"}, epochs=2)
    trainer.run()
    valid = trainer.valid_embeddings  # the final validation pass, after objective.fit
    loaded = Run.load(run, registry)
    items = DatasetFolder(tiny_data).split("valid")
    audio = loaded.embed("audio", [it.audio for it in items], batch_size=8)
    sheet = loaded.embed("sheet", [it.sheet for it in items], batch_size=8)  # Path objects are files
    lyrics = loaded.embed("lyrics", [it.lyrics for it in items], batch_size=8)  # raw text
    assert audio.shape == (12, loaded.shared_dim) == (12, 8)
    torch.testing.assert_close(audio, valid["audio"], rtol=0, atol=1e-6)
    torch.testing.assert_close(sheet, valid["sheet"], rtol=0, atol=1e-6)
    torch.testing.assert_close(lyrics, valid["lyrics"], rtol=0, atol=1e-6)
    # a different batch size pads differently; masked encoders give the same embeddings
    torch.testing.assert_close(
        loaded.embed("audio", [it.audio for it in items], batch_size=3), audio, rtol=0, atol=1e-5
    )
    assert [r["epoch"] for r in loaded.metrics] == [1, 2]
    assert loaded.info["status"] == "finished"


def test_objective_with_nothing_to_train_goes_straight_to_fit(registry, tiny_data, tmp_path):
    run = tmp_path / "run"
    torch.manual_seed(0)  # the trainer seeds itself; this only proves it does
    trainer = make_trainer(registry, tiny_data, run, {"audio": "tiny", "objective": "centre"}, epochs=5, seed=7)
    trainer.run()
    assert not (run / "metrics.jsonl").exists()
    torch.manual_seed(7)
    fresh = TinyAudio()
    state = torch.load(run / "model.pt", weights_only=True)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, state["encoders"]["audio"]["state_dict"][k]), k  # not trained
    views = trainer.encode_split(trainer.train_data)
    torch.testing.assert_close(state["objective"]["state_dict"]["mean_audio"], views["audio"].mean(0))
    assert json.loads((run / "run.json").read_text())["final"]["valid_mrr"] > 0


def test_early_stopping(registry, tiny_data, tmp_path):
    trainer = make_trainer(
        registry, tiny_data, tmp_path / "run", {"audio": "tiny", "objective": "infonce"}, epochs=10, lr=0.0, patience=2
    )
    trainer.run()
    # lr 0: nothing improves after epoch 1, so epochs 2 and 3 run and training stops
    assert [r["epoch"] for r in trainer.rows] == [1, 2, 3]
    assert [r["best"] for r in trainer.rows] == [True, False, False]


def test_song_run_trains_on_batches_of_runs_of_one_song(registry, tiny_data, tmp_path):
    """`--song-run 3`: each training batch is made of runs of up to 3 items of one song; the
    setting is saved with the run."""
    manifest = tiny_data / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for k, row in enumerate(rows):  # four passages a song (each melody is its own song here)
        row["song"] = f"{row['split']}-{k // 4}"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    names = {"audio": "tiny", "objective": "infonce"}
    trainer = make_trainer(registry, tiny_data, tmp_path / "run", names, epochs=2, song_run=3)
    seen: list[list[int]] = []
    step = trainer.step
    trainer.step = lambda batch: (seen.append(list(batch)), step(batch))[1]  # type: ignore[method-assign]
    trainer.run()
    songs = [it.song for it in trainer.train_items]
    assert seen and all(len(b) == 8 for b in seen)
    per_batch = [max(Counter(songs[i] for i in b).values()) for b in seen]
    # 3 items of one song in at least 3 batches of 4 (items at random: 0.3 of batches on average)
    assert sum(m >= 3 for m in per_batch) >= 0.75 * len(per_batch)
    assert "song_run = 3" in (tmp_path / "run" / "config.toml").read_text()


def test_a_build_with_page_windows_batches_runs_of_two_a_song_by_default(registry, tiny_data, tmp_path):
    """No `--song-run`: a dataset whose training items include page windows trains on runs of 2
    items a song, saved with the run (a resume keeps them); one without trains on items at random."""
    names = {"audio": "tiny", "objective": "infonce"}
    plain = make_trainer(registry, tiny_data, tmp_path / "plain", names, epochs=1)
    plain.run()
    assert plain.song_run == 0 and "song_run = 0" in (tmp_path / "plain" / "config.toml").read_text()
    manifest = tiny_data / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    for k, row in enumerate(rows):
        row["song"] = f"{row['split']}-{k // 4}"
        if row["split"] == "train" and k % 2:
            row["page_window"] = [1, 1, 0, 100]  # as `dataset build --train-page-windows` marks them
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    paged = make_trainer(registry, tiny_data, tmp_path / "paged", names, epochs=1)
    paged.run()
    assert paged.song_run == 2 and "song_run = 2" in (tmp_path / "paged" / "config.toml").read_text()


def test_encoder_with_needs_fit_is_fitted_and_saved(registry, tiny_data, tmp_path):
    run = tmp_path / "run"
    make_trainer(registry, tiny_data, run, {"audio": "tiny", "lyrics": "bag", "objective": "tri"}, epochs=1).run()
    loaded = Run.load(run, registry)
    lyr = loaded.encoders["lyrics"]
    assert lyr.is_fitted and float(lyr.idf.abs().sum()) > 0
    train_lyrics = [it.lyrics for it in DatasetFolder(tiny_data).split("train")]
    ref = TinyLyrics()
    ref.fit(train_lyrics)  # fitted on the training split only
    assert torch.equal(ref.idf, lyr.idf)


class InterruptedInfoNCE(TinyInfoNCE):
    """InfoNCE that raises KeyboardInterrupt (as Ctrl-C would) at training step `stop_at`."""

    name = "infonce-ctrl-c"
    stop_at: int | None = None
    steps = 0

    def training_step(self, views, optimizers):
        type(self).steps += 1
        if self.stop_at is not None and type(self).steps == self.stop_at:
            raise KeyboardInterrupt
        return super().training_step(views, optimizers)


@pytest.mark.parametrize("stop_at", [2, 7], ids=["in-epoch-1", "in-epoch-2"])
def test_interrupted_run_resumes_to_the_uninterrupted_result(registry, tiny_data, tmp_path, stop_at):
    registry.add(InterruptedInfoNCE, "tiny-tests")
    common = [
        "--data",
        tiny_data,
        "--audio",
        "tiny",
        "--objective",
        "infonce-ctrl-c",
        "--batch-size",
        "8",
        "--workers",
        "0",
        "--epochs",
        "3",
        "-o",
        "audio.dropout=0.2",
    ]  # 32 items: 4 steps an epoch
    runner = CliRunner(env={"COLUMNS": "250"})
    app = build_app(registry)
    InterruptedInfoNCE.stop_at, InterruptedInfoNCE.steps = None, 0
    assert runner.invoke(app, ["train", *map(str, common), "--out", str(tmp_path / "a")]).exit_code == 0
    InterruptedInfoNCE.stop_at, InterruptedInfoNCE.steps = stop_at, 0
    stopped = runner.invoke(app, ["train", *map(str, common), "--out", str(tmp_path / "b")])
    assert stopped.exit_code == 130 and "interrupted" in stopped.output
    assert (tmp_path / "b" / "last.pt").is_file() == (stop_at > 4)
    InterruptedInfoNCE.stop_at = None
    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "b")])
    assert resumed.exit_code == 0, resumed.output
    a, b = final_states(tmp_path / "a"), final_states(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a)
    assert len((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()) == 3


@pytest.mark.parametrize("amp", [True, False])
def test_with_amp_a_cpu_with_native_bfloat16_trains_in_it(registry, tiny_data, tmp_path, monkeypatch, amp):
    from ugaar_kit.infra import distributed as ddp

    monkeypatch.setattr(ddp, "native_bf16", lambda: True)
    console = Console(record=True, width=200)
    values = {"data": tiny_data, "out": tmp_path / "run", "batch_size": 8, "workers": 0, "epochs": 1, "amp": amp}
    names = {"audio": "tiny", "lyrics": "bag", "objective": "tri"}
    trainer = Trainer(merge(RunConfig(), {**values, "device": "cpu"}, names, {}), registry, console=console)
    seen: list[tuple[bool, bool, torch.dtype]] = []

    def record(module: torch.nn.Module, args: tuple) -> None:
        seen.append((module.training, torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))

    with trainer._closing():
        trainer.prepare()
        for encoder in trainer.encoders.values():
            encoder.register_forward_pre_hook(record)
        trainer.train()
        trainer.finish()
    assert {(on, dtype) for training, on, dtype in seen if training and on} == (
        {(True, torch.bfloat16)} if amp else set()
    )
    assert any(training for training, _, _ in seen) and not any(on for training, on, _ in seen if not training)
    assert trainer.optimizers.scaler is None  # bfloat16 has float32's range: nothing to scale
    assert ("mixed precision: bfloat16 on this CPU" in console.export_text()) == amp


def test_mixed_precision_is_float16_on_cuda_and_off_on_a_cpu_without_bfloat16(monkeypatch):
    from ugaar_kit.infra import distributed as ddp

    assert ddp.autocast_dtype(torch.device("cuda"), True) == torch.float16
    assert ddp.autocast_dtype(torch.device("cuda"), False) is None
    monkeypatch.setattr(ddp, "native_bf16", lambda: False)
    assert ddp.autocast_dtype(torch.device("cpu"), True) is None  # emulated bfloat16 would be slower
    monkeypatch.setattr(ddp, "native_bf16", lambda: True)
    assert ddp.autocast_dtype(torch.device("cpu"), True) == torch.bfloat16
    assert ddp.autocast_dtype(torch.device("cpu"), False) is None
