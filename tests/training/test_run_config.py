"""Run configs: TOML round trip, precedence, and what a resumed run may change."""

from __future__ import annotations

from pathlib import Path

import pytest

from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.runfolder.config import (
    ComponentSpec,
    RunConfig,
    dumps,
    merge,
    parse_config,
    resolve_config,
    write_config,
)

SLOTS = ("audio", "sheet", "lyrics", "objective")


def test_toml_round_trip():
    cfg = merge(
        RunConfig(),
        {"data": Path("/d"), "out": Path("/r"), "epochs": 3, "lr": 0.5, "workers": 2},
        {"audio": "cnn", "objective": "dcca"},
        {"audio": {"n_mels": 128, "sizes": (1, 2)}, "objective": {"dim": 32}},
    )
    back = parse_config(__import__("tomllib").loads(dumps(cfg)), SLOTS)
    assert back.settings == cfg.settings
    assert back.components["audio"] == ComponentSpec("cnn", {"n_mels": 128, "sizes": [1, 2]})
    assert back.components["objective"] == ComponentSpec("dcca", {"dim": 32})


def test_values_are_typed_and_checked():
    cfg = merge(RunConfig(), {"epochs": "7", "amp": "false", "workers": "none"})
    assert cfg.settings.epochs == 7 and cfg.settings.amp is False and cfg.settings.workers is None
    with pytest.raises(OptionError, match="option 'lr': 'fast' is not a number"):
        merge(RunConfig(), {"lr": "fast"})
    with pytest.raises(InputError, match=r"\[audio\] name must be a string"):
        parse_config({"audio": {"name": 3}}, SLOTS)
    with pytest.raises(InputError, match="'audio' must be a table"):
        parse_config({"audio": "cnn"}, SLOTS)


def test_cli_wins_over_file_which_wins_over_defaults(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('epochs = 4\nseed = 9\n[audio]\nname = "cnn"\nn_mels = 64\n', encoding="utf-8")
    cfg = resolve_config(
        f, {"epochs": 2, "seed": None}, {"audio": None, "sheet": "cnn"}, {"audio": {"n_mels": "32"}}, SLOTS
    )
    assert (cfg.settings.epochs, cfg.settings.seed, cfg.settings.batch_size) == (2, 9, None)  # None: auto
    assert cfg.components["audio"] == ComponentSpec("cnn", {"n_mels": "32"})
    assert cfg.components["sheet"].name == "cnn"


def resumable(tmp_path) -> Path:
    run = tmp_path / "run"
    cfg = merge(
        RunConfig(),
        {"data": tmp_path, "out": run, "epochs": 2, "lr": 0.01},
        {"audio": "cnn", "objective": "dcca"},
        {"audio": {"n_mels": 64}},
    )
    write_config(cfg, run / "config.toml")
    return run


def test_resume_may_extend_epochs_only_where_allowed(tmp_path):
    run = resumable(tmp_path)
    none = dict.fromkeys(SLOTS)
    cfg = resolve_config(None, {"resume": run, "epochs": 5, "lr": 0.01, "data": tmp_path}, none, {}, SLOTS)
    assert cfg.settings.epochs == 5 and cfg.settings.out == run and cfg.settings.resume == run
    assert cfg.components["audio"].options == {"n_mels": 64}
    with pytest.raises(OptionError, match="cannot change 'batch_size' when resuming"):
        resolve_config(None, {"resume": run, "batch_size": 3}, none, {}, SLOTS)
    with pytest.raises(OptionError, match="cannot change the audio component when resuming"):
        resolve_config(None, {"resume": run}, {**none, "audio": "hf"}, {}, SLOTS)
    with pytest.raises(OptionError, match="component options cannot change"):
        resolve_config(None, {"resume": run}, none, {"audio": {"n_mels": "8"}}, SLOTS)
    with pytest.raises(OptionError, match="--config and --resume cannot be combined"):
        resolve_config(run / "config.toml", {"resume": run}, none, {}, SLOTS)
    with pytest.raises(InputError, match="not a run folder to resume"):
        resolve_config(None, {"resume": tmp_path / "nothing"}, none, {}, SLOTS)
