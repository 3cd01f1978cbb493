"""`ugaar-kit train` through the real CLI app with a registry of tiny components."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib
from typer.testing import CliRunner

from ugaar_kit.cli.app import build_app
from ugaar_kit.testing.data import write_dataset
from ugaar_kit.testing.parts import TinyTri

FAST = ["--epochs", "2", "--batch-size", "8", "--workers", "0"]


def invoke(registry, *args: str):
    return CliRunner(env={"COLUMNS": "250"}).invoke(build_app(registry), ["train", *map(str, args)])


def on(data, tmp_path) -> list:
    """`--data DATA --out TMP/run --audio tiny`: where most of these runs start."""
    return ["--data", data, "--out", tmp_path / "run", "--audio", "tiny"]


def one_line_error(result) -> str:
    """The error line of a refused command (and check it is one line, no traceback)."""
    assert result.exit_code != 0
    text = result.output.strip()
    assert "Traceback" not in text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " ".join(lines)


def test_missing_modality_gets_default_encoder_and_is_announced(registry, tiny_data, tmp_path):
    run = tmp_path / "run"
    result = invoke(
        registry, "--data", tiny_data, "--out", run, "--audio", "tiny", "--lyrics", "bag", "--objective", "tri", *FAST
    )
    assert result.exit_code == 0, result.output
    assert "added sheet" in result.output
    assert "sheet: no encoder named, using the default 'cnn'" in result.output
    info = json.loads((run / "run.json").read_text())
    assert info["modalities"] == ["audio", "sheet", "lyrics"]
    assert {m: info["components"][m]["name"] for m in info["modalities"]} == {
        "audio": "tiny",
        "sheet": "cnn",
        "lyrics": "bag",
    }
    assert info["status"] == "finished"
    # the dataset is named: its folder (dataset.json has no name), size and manifest digest
    assert info["dataset"]["name"] == "tiny-melodies" and info["dataset"]["passages"] > 0  # its dataset.json's
    assert len(info["dataset"]["manifest_sha256"]) == 16
    for name in ("config.toml", "metrics.jsonl", "curves.png", "last.pt", "best.pt", "model.pt"):
        assert (run / name).is_file(), name
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_objective_without_modalities_uses_its_defaults(registry, tiny_data, tmp_path):
    result = invoke(
        registry, "--data", tiny_data, "--out", tmp_path / "run", "--objective", "infonce", "--audio", "tiny", *FAST
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "run.json").read_text())["modalities"] == ["audio", "sheet"]


def test_select_flag_reaches_the_run_and_a_wrong_direction_is_one_line(registry, tiny_data, tmp_path):
    base = ["--data", tiny_data, "--objective", "infonce", "--audio", "tiny", *FAST]
    result = invoke(registry, *base, "--out", tmp_path / "run", "--select", "sheet->audio")
    assert result.exit_code == 0, result.output
    assert tomllib.loads((tmp_path / "run" / "config.toml").read_text())["select"] == ["sheet->audio"]
    rows = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["valid_score"] == r["valid"]["sheet->audio"]["MRR"] for r in rows)
    bad = invoke(registry, *base, "--out", tmp_path / "bad", "--select", "audio->sheet,lyrics->audio")
    assert "select: 'lyrics->audio' is not a direction of this run" in one_line_error(bad)


def test_unknown_encoder_lists_known_names(registry, tiny_data, tmp_path):
    result = invoke(
        registry, "--data", tiny_data, "--out", tmp_path / "run", "--audio", "nope", "--objective", "infonce"
    )
    assert result.exit_code == 2
    assert "unknown audio encoder 'nope' (known: tiny)" in result.output


def test_unknown_objective_lists_known_names(registry, tiny_data, tmp_path):
    result = invoke(registry, "--data", tiny_data, "--out", tmp_path / "run", "--objective", "gan")
    assert "unknown objective 'gan' (known: centre, infonce, tri)" in one_line_error(result)


def test_too_many_modalities_for_objective_refused(registry, tiny_data, tmp_path):
    class TwoOnly(TinyTri):
        name = "pair"
        n_views = (2,)
        default_modalities = ("audio", "sheet")

    registry.add(TwoOnly, "tiny-tests")
    result = invoke(
        registry,
        *on(tiny_data, tmp_path),
        "--sheet",
        "cnn",
        "--lyrics",
        "bag",
        "--objective",
        "pair",
    )
    assert "objective 'pair' takes 2 modalities, got 3 (audio, sheet, lyrics)" in one_line_error(result)
    assert not (tmp_path / "run").exists()


def test_dataset_without_needed_modality_refused(registry, tmp_path):
    data = write_dataset(tmp_path / "ds", {"train": 8, "valid": 2}, modalities=("audio", "sheet"))
    result = invoke(
        registry, "--data", data, "--out", tmp_path / "run", "--audio", "tiny", "--lyrics", "bag", "--objective", "tri"
    )
    msg = one_line_error(result)
    assert "objective 'tri' trains audio, sheet, lyrics but the dataset" in msg
    assert "has no lyrics (it has: audio, sheet)" in msg


def test_missing_default_encoder_is_named(registry, tiny_data, tmp_path):
    # no lyrics encoder called 'doc2vec' in the test registry: the default cannot be used
    result = invoke(registry, *on(tiny_data, tmp_path), "--sheet", "cnn", "--objective", "tri")
    msg = one_line_error(result)
    assert "needs the lyrics modality and no installed lyrics encoder is its default" in msg
    assert "known lyrics encoders: bag" in msg


def test_batch_smaller_than_objective_minimum_refused(registry, tiny_data, tmp_path):
    result = invoke(
        registry, *on(tiny_data, tmp_path), "--objective", "infonce", "--batch-size", "4", "-o", "objective.min_rows=6"
    )
    assert "--batch-size 4: objective 'infonce' needs at least 6 rows per batch" in one_line_error(result)
    assert not (tmp_path / "run").exists()  # a refused run creates nothing


def test_existing_run_folder_is_not_overwritten(registry, tiny_data, tmp_path):
    args = [
        *on(tiny_data, tmp_path),
        "--objective",
        "infonce",
        "--epochs",
        "0",
        "--workers",
        "0",
    ]
    assert invoke(registry, *args).exit_code == 0
    result = invoke(registry, *args)
    assert "already holds a run: continue it with --resume" in one_line_error(result)


def test_config_file_flags_and_o_precedence(registry, tiny_data, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        f"""
data = "{tiny_data}"
epochs = 1
batch_size = 8
lr = 0.01
workers = 0
[audio]
name = "tiny"
dim = 6
n_mels = 12
[objective]
name = "infonce"
dim = 5
temperature = 0.5
""",
        encoding="utf-8",
    )
    run = tmp_path / "run"
    result = invoke(
        registry, "--config", cfg, "--out", run, "--lr", "0.002", "-o", "audio.n_mels=10", "-o", "objective.dim=4"
    )
    assert result.exit_code == 0, result.output
    written = tomllib.loads((run / "config.toml").read_text())
    assert written["lr"] == 0.002  # flag wins over the file
    assert written["epochs"] == 1 and written["batch_size"] == 8  # file wins over defaults
    assert "patience" not in written  # default: 10, or never in a budgeted cosine run (TrainSettings.stop_patience)
    assert written["audio"] == {
        "name": "tiny",
        "dim": 6,
        "n_mels": 10,
        "dropout": 0.0,
    }  # -o wins, file kept, default filled
    assert written["objective"]["dim"] == 4 and written["objective"]["temperature"] == 0.5
    assert written["sheet"] == {"name": "cnn", "dim": 8}
    assert Path(written["data"]) == tiny_data.resolve()

    # the written config repeats the run
    again = invoke(registry, "--config", run / "config.toml", "--out", tmp_path / "again")
    assert again.exit_code == 0, again.output
    first = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    second = [json.loads(r) for r in (tmp_path / "again" / "metrics.jsonl").read_text().splitlines()]
    assert [r["train"] for r in first] == [r["train"] for r in second]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("epoch = 3\n", "unknown key 'epoch' (known: data, out, epochs,"),
        (
            '[audio]\nname = "tiny"\nn_mel = 3\n[objective]\nname = "infonce"\n',
            "unknown option 'audio.n_mel' (known: dim, n_mels, dropout)",
        ),
        ('[video]\nname = "x"\n', "unknown table [video] (known: audio, sheet, lyrics, objective)"),
        ("batch_size = 0\n", "option 'batch_size': 0 is below the minimum 1"),
        ("epochs = [1\n", "invalid TOML"),
    ],
)
def test_config_errors_name_the_key(registry, tiny_data, tmp_path, text, expected):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    result = invoke(
        registry,
        "--config",
        cfg,
        "--data",
        tiny_data,
        "--out",
        tmp_path / "run",
        "--objective",
        "infonce",
        "--audio",
        "tiny",
    )
    assert expected in one_line_error(result)


def test_bad_o_refused(registry, tiny_data, tmp_path):
    base = ["--data", tiny_data, "--out", tmp_path / "run", "--objective", "infonce", "--audio", "tiny"]
    assert "unknown slot 'audoi'" in one_line_error(invoke(registry, *base, "-o", "audoi.dim=3"))
    assert "option 'audio.dim': 'x' is not an integer" in one_line_error(invoke(registry, *base, "-o", "audio.dim=x"))
    msg = one_line_error(invoke(registry, *base, "-o", "lyrics.dim=3"))
    assert "options for 'lyrics' were given but this run does not train the lyrics modality" in msg


def test_a_covariance_objective_on_a_small_split_says_the_way_out(registry, tiny_data, tmp_path):
    from ugaar_kit_plugins.objective_dcca.objective import DeepCCA

    registry.add(DeepCCA, "ugaar-kit", "test", "objective_dcca")
    base = ["--data", tiny_data, "--audio", "tiny", "--lyrics", "bag", "--objective", "dcca", "--workers", "0"]
    wide = invoke(registry, *base, "--out", tmp_path / "a", "-o", "audio.dim=40", "-o", "lyrics.dim=40")
    assert (
        "--batch-size 64: the training split has only 32 items; objective 'dcca' needs more than 40 rows a batch, "
        "the encoders' widest output: narrow the encoders (-o MODALITY.dim=N, N below 32)"
    ) in one_line_error(wide)
    assert not (tmp_path / "a").exists()
    narrow = invoke(registry, *base, "--out", tmp_path / "b")
    assert "--batch-size 64: the training split has only 32 items; choose --batch-size from 9 to 32" in one_line_error(
        narrow
    )


def test_a_poor_setting_is_one_warning_line_and_the_run_goes_on(registry, tiny_data, tmp_path):
    from ugaar_kit_plugins.objective_dcca.objective import DeepCCA

    registry.add(DeepCCA, "ugaar-kit", "test", "objective_dcca")
    result = invoke(
        registry,
        *("--data", tiny_data, "--out", tmp_path / "run", "--audio", "tiny", "--lyrics", "bag"),
        *("--objective", "dcca", "-o", "objective.batch_weight=1", *FAST[:2], "--batch-size", "16", "--workers", "0"),
    )
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if "below 4x" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: dcca: training batches of 16 rows are below 4x")
    assert "UserWarning" not in result.output and ".py:" not in result.output


def test_a_run_failing_before_its_run_files_leaves_no_folder(registry, tiny_data, tmp_path, monkeypatch):
    from ugaar_kit.errors import InputError
    from ugaar_kit.training.trainer import Trainer

    def broken(self):
        raise InputError(tiny_data / "audio" / "x.wav", "not a readable audio file")

    monkeypatch.setattr(Trainer, "_build_caches", broken)
    run = tmp_path / "run"
    result = invoke(registry, "--data", tiny_data, "--out", run, "--audio", "tiny", "--objective", "infonce", *FAST)
    assert "x.wav: not a readable audio file" in one_line_error(result)
    assert not run.exists()


def test_a_run_that_died_before_its_first_checkpoint_says_so(registry, tiny_data, tmp_path, monkeypatch):
    from ugaar_kit.training.trainer import Trainer

    run = tmp_path / "run"
    args = ["--data", tiny_data, "--audio", "tiny", "--objective", "infonce", *FAST]
    real_train = Trainer.train

    def killed(self):
        raise KeyboardInterrupt  # as a kill in the first epoch: the run files are written, no last.pt

    monkeypatch.setattr(Trainer, "train", killed)
    assert invoke(registry, *args, "--out", run).exit_code == 130
    assert (run / "run.json").is_file() and not (run / "last.pt").exists()
    monkeypatch.setattr(Trainer, "train", real_train)
    again = invoke(registry, *args, "--out", run)
    assert (
        f"{run.resolve()} holds a run that stopped before its first epoch ended (status 'running', no last.pt): "
        f"--resume {run.resolve()} starts it again"
    ) in one_line_error(again)
    resumed = CliRunner(env={"COLUMNS": "250"}).invoke(build_app(registry), ["train", "--resume", str(run)])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
