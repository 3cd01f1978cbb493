"""The quality benchmark's cell bookkeeping: the grid, `--only`/`--seeds`, cell states, the lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import quality
from quality import AS, ASL, Cell


def test_the_grid_holds_every_table_cell_once() -> None:
    cells = quality.grid()
    names = [c.name for c in cells]
    assert len(names) == len(set(names)) == 94
    # at the defaults: 4 audio-sheet rows x 3 seeds, 5 one-seed ablations
    assert len([c for c in cells if "defaults" in c.groups()]) == 12
    assert len([c for c in cells if "ablation" in c.groups()]) == 5
    # lyrics at the defaults: 3 lyrics encoders x 3 seeds, 10 one-seed prosody ablations
    lyrics = [c for c in cells if "lyrics" in c.groups()]
    assert len(lyrics) == 9 and {c.lyrics for c in lyrics} == {"prosody", "doc2vec", "transformer"}
    assert all(c.modalities == ASL and c.budget == "15m" for c in lyrics)
    assert len([c for c in cells if "lyrics-ablation" in c.groups()]) == 10
    # UGAAR at the defaults: the design card's command x 3 seeds, 4 one-seed ablations, and the
    # two-stage contrastive baseline x 3 seeds
    ugaar = [c for c in cells if "ugaar-defaults" in c.groups()]
    assert len(ugaar) == 10 and {c.seed for c in ugaar if c.variant == "base"} == {0, 1, 2}
    assert all(c.lyrics == "doc2vec" for c in ugaar if c.variant == "base")
    two_stage = [c for c in ugaar if c.variant == "twostage"]
    assert {c.seed for c in two_stage} == {0, 1, 2} and all(c.objective == "contrastive" for c in two_stage)
    assert {c.variant for c in ugaar if c.seed != 0} == {"base", "twostage"}
    # the 0.1 budget: (8 main + 2 random + 6 evidence-only) x 3 seeds
    cells = [c for c in cells if not c.budget]
    assert len(cells) == 48
    # main table: 4 objectives x 2 lyrics encoders, three modalities, per seed
    main = [c for c in cells if "main" in c.groups()]
    assert len(main) == 24
    assert {(c.objective, c.lyrics) for c in main} == {
        (o, lyr) for o in quality.OBJECTIVES for lyr in quality.LYRICS_ENCODERS
    }
    # the UGAAR evidence grid: two-modality baselines, three-modality baselines, UGAAR and ablations
    evidence = {c.config for c in cells if "evidence" in c.groups()}
    assert evidence == {
        "contrastive-as",
        "dcca-as",
        "dcca-as-rank",
        "contrastive-asl-doc2vec",
        "dcca-asl-doc2vec",
        "ugaar-asl-doc2vec",
        "ugaar-asl-doc2vec-adv0",
        "ugaar-asl-doc2vec-transfer0",
        "ugaar-asl-doc2vec-bend",
    }
    two = [c for c in cells if c.modalities == ("audio", "sheet")]
    assert all(c.lyrics is None for c in two)


def test_cell_names_options_and_epochs_follow_the_variant() -> None:
    budget = quality.Budget(epochs=7)
    cell = Cell("ugaar", ASL, "doc2vec", "adv0", 1)
    assert cell.name == "ugaar-asl-doc2vec-adv0-s1"
    assert cell.config == "ugaar-asl-doc2vec-adv0"
    assert cell.options == {"adversarial_weight": "0"}
    assert cell.epochs(budget) == 7
    random = Cell("contrastive", ASL, "transformer", "random", 2)
    assert random.name == "contrastive-asl-transformer-random-s2"
    assert random.epochs(budget) == 0 and random.options == {}
    assert Cell("dcca", ("audio", "sheet"), None).name == "dcca-as-s0"


@pytest.mark.parametrize(
    ("only", "seeds", "expected"),
    [
        (["ugaar"], None, 22),  # doc2vec, transformer, adv0, transfer0, bend x 3 seeds; 7 at 15m
        (["ugaar"], [0], 10),
        (["as"], [0], 12),  # the two-modality cells: 3 of 0.1, 4 at the defaults, 5 ablations
        (["defaults"], None, 12),
        (["ablation"], None, 5),
        (["15m"], [0], 26),  # 4 headline rows, 3 ablations, 4 lyrics rows, 10 lyrics ablations, 4 ugaar, 1 two-stage
        (["twostage"], None, 3),
        (["random"], None, 6),
        (["ugaar-asl-doc2vec"], None, 3),  # a seedless config: its seeds only, not the ablations
        (["ugaar-asl-doc2vec-adv0-s2"], None, 1),
        (["*-transformer-s1"], None, 4),  # a glob (the 15m lyrics cells end in -15m-s1)
        (["evidence"], [1], 9),
        (["cca", "dcca"], [0], 9),  # cca x 2 lyrics, dcca x 2 lyrics, dcca-as, dcca-as-rank; 3 at the defaults
        ([], [2], 25),  # seed 2: 4 audio-sheet, 4 lyrics and 1 two-stage rows at the defaults, 16 of the 0.1 grid
        (["nothing-like-this"], None, 0),
    ],
)
def test_select_by_only_and_seeds(only: list[str], seeds: list[int] | None, expected: int) -> None:
    assert len(quality.select(quality.grid(), only, seeds)) == expected


def test_cell_state_follows_the_files_of_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "cell"
    assert quality.cell_state(folder) == "pending"
    (folder / "run").mkdir(parents=True)
    assert quality.cell_state(folder) == "pending"  # an empty run folder: nothing to resume
    (folder / quality.ERROR).write_text("Traceback ...")
    assert quality.cell_state(folder) == "failed"
    (folder / "run" / "config.toml").write_text("epochs = 3\n")
    assert quality.cell_state(folder) == "interrupted"
    (folder / "run" / "model.pt").write_bytes(b"x")
    assert quality.cell_state(folder) == "trained"
    (folder / quality.RESULT).write_text("{not json")
    assert quality.cell_state(folder) == "trained"  # a broken result counts as none
    (folder / quality.RESULT).write_text(json.dumps({"format": quality.FORMAT}))
    assert quality.cell_state(folder) == "done"


def test_one_process_at_a_time(tmp_path: Path) -> None:
    with quality.exclusive(tmp_path):
        (tmp_path / ".running").write_text(json.dumps({"pid": 1, "cell": "dcca-as-s0"}))
        with pytest.raises(SystemExit, match="another quality.py runs .*dcca-as-s0"):
            with quality.exclusive(tmp_path):
                pass
    with quality.exclusive(tmp_path):  # released when the first holder left
        pass
    assert not (tmp_path / ".running").exists()


def test_shards_hold_their_own_lock_and_parse(tmp_path: Path) -> None:
    with quality.exclusive(tmp_path, "-1-of-2"):
        with quality.exclusive(tmp_path, "-2-of-2"):  # another shard runs beside it
            with pytest.raises(SystemExit, match="one process at a time per shard"):
                with quality.exclusive(tmp_path, "-1-of-2"):
                    pass
    assert quality.parse_shard("2/3") == (2, 3)
    for bad in ("3/2", "0/2", "1", "a/b"):
        with pytest.raises(Exception, match="--shard"):
            quality.parse_shard(bad)


def test_the_pool_falls_back_to_the_whole_split_when_it_is_smaller() -> None:
    ctx = quality.Context(data=Path("."), registry=None, pool=1000)
    ctx.dataset = {"splits": {"test": {"candidates": 1200}}}
    assert quality.effective_pool(ctx) == 1000
    ctx.dataset = {"splits": {"test": {"candidates": 900}}}
    assert quality.effective_pool(ctx) is None


def test_the_printed_command_selects_the_same_cells() -> None:
    command = quality.command_for(["ugaar-asl-doc2vec"])
    assert command == ".venv/bin/python benchmarks/quality.py --only ugaar-asl-doc2vec"
    patterns = command.split("--only ")[1:]
    assert [c.name for c in quality.select(quality.grid(), [p.strip() for p in patterns])] == [
        "ugaar-asl-doc2vec-s0",
        "ugaar-asl-doc2vec-s1",
        "ugaar-asl-doc2vec-s2",
    ]


def test_list_needs_no_dataset_and_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(quality, "QUALITY", tmp_path)
    assert quality.main(["--list", "--only", "ugaar", "--seeds", "0"]) == 0
    out = capsys.readouterr().out
    assert "ugaar-asl-doc2vec-adv0-s0" in out and "10 pending" in out
    assert list(tmp_path.iterdir()) == []


def test_cca_cells_fit_flat_features_at_default_widths() -> None:
    from ugaar_kit.registry.discovery import get_registry

    ctx = quality.Context(data=Path("."), registry=get_registry())
    cca = quality.encoder_names(Cell("cca", ASL, "doc2vec"), ctx)
    assert cca == {"audio": "flat", "sheet": "flat", "lyrics": "doc2vec"}
    assert all("dim" not in o for o in quality.encoder_overrides(ctx, cca, trained=False).values())
    dcca = quality.encoder_names(Cell("dcca", ASL, "doc2vec"), ctx)
    assert dcca == {"audio": "cnn", "sheet": "cnn", "lyrics": "doc2vec"}
    overrides = quality.encoder_overrides(ctx, dcca)
    assert overrides["audio"]["dim"] == overrides["lyrics"]["dim"] == "16"
    assert overrides["sheet"]["height"] == "32"


def test_cells_under_a_wall_clock_budget_run_what_a_user_types() -> None:
    from ugaar_kit.registry.discovery import get_registry

    ctx = quality.Context(data=quality.REPO / "benchmarks/results/data/lmd-200", registry=get_registry())
    rank = Cell("dcca", AS, None, "rank", 1, "15m")
    assert rank.name == "dcca-as-rank-15m-s1" and rank.groups() == {"defaults"}
    assert ctx.budget_for(rank) == quality.TimeBudget("15m") and rank.epochs(ctx.budget_for(rank)) is None
    run = quality.REPO / "benchmarks/results/quality" / rank.name / "run"
    assert quality.user_command(rank, ctx, run) == (
        "ugaar-kit train --data benchmarks/results/data/lmd-200 --out benchmarks/results/quality/dcca-as-rank-15m-s1/run "
        "--objective dcca --audio cnn --sheet cnn --max-time 15m --seed 1 -o objective.rank_weight=1"
    )
    config = quality.run_config(rank, ctx, run, resume=False)
    s = config.settings
    # nothing but the budget and the seed: the batch, schedule, encoders and augmentation are the defaults
    assert (s.max_time, s.seed, s.epochs, s.batch_size, s.schedule) == (900.0, 1, None, None, "cosine")
    assert config.components["audio"] == quality_spec("cnn") and config.components["sheet"] == quality_spec("cnn")
    assert config.components["objective"] == quality_spec("dcca", rank_weight="1")

    noaug = Cell("contrastive", AS, None, "noaug", 0, "15m")
    assert noaug.groups() == {"ablation"}
    components = quality.run_config(noaug, ctx, run, resume=False).components
    assert components["audio"] == quality_spec("cnn", stretch="0", freq_mask="0", time_mask="0")
    assert components["sheet"] == quality_spec("cnn", stretch="0", shift="0")
    assert "-o audio.stretch=0 -o audio.freq_mask=0" in quality.user_command(noaug, ctx, run)
    cca = Cell("cca", AS, None, "base", 0, "15m")
    assert "--audio flat --sheet flat" in quality.user_command(cca, ctx, run)
    # the 0.1 budget's cells print no user command: they shrink the encoders
    assert quality.user_command(Cell("dcca", AS, None), ctx, run) is None


def quality_spec(name: str, **options: str):
    from ugaar_kit.runfolder.config import ComponentSpec

    return ComponentSpec(name, options)
