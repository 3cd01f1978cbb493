"""report.py: tables from result files, prose around the markers kept, "not run yet" with commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import quality
import report
import speed
from quality import ASL, Cell
from records import DOC, write_json

DIRS = report.DIRECTIONS
MACHINE = {
    "date": "2026-11-22T04:00:00+00:00",
    "nproc": 2,
    "cpu": "Test CPU",
    "ram_gib": 23.4,
    "torch": "2.14.1",
    "torch_threads": 1,
}


def fake_result(cell: Cell, mrr: float, medr: float = 50.0, sha: str = "abc", epochs: int = 6) -> dict:
    """A result.json as quality.run_cell writes it, with every direction at `mrr`."""
    dirs = [d for d in DIRS if all(m in cell.modalities for m in d.split("->"))]
    figures = {
        d: {"R@1": mrr / 2, "R@5": mrr, "R@10": mrr, "MRR": mrr, "MedR": medr, "pool": 1000, "chance_MRR": 0.0075}
        for d in dirs
    }
    baselines = {d: {"MRR": 0.0115, "MedR": 86.0, "pool": 1000, "chance_MRR": 0.0075} for d in dirs if "lyrics" in d}
    budget = {**quality.Budget().__dict__, "epochs": epochs if cell.variant != "random" else 0}
    return {
        "format": quality.FORMAT,
        "cell": {"name": cell.name, "config": cell.config, "variant": cell.variant, "seed": cell.seed},
        "budget": budget,
        "encoders": {"audio": "cnn", "sheet": "cnn"},
        "dataset": {
            "folder": "lmd-300",
            "songs": 294,
            "manifest_sha256": sha,
            "splits": {s: {"items": 10, "songs": 2, "candidates": 9} for s in ("train", "valid", "test")},
        },
        "evaluation": {"split": "test", "pool": 1000, "draws": 10, "pool_seed": 0},
        "train": {
            "epoch_seconds": 600.0 if cell.variant != "random" else 0.0,
            "epochs_trained": 0 if cell.variant == "random" else epochs,
        },
        "figures": {"directions": figures, "baselines": {"syllable_count": baselines}},
        "machine": MACHINE,
        "finished": "2026-11-22T05:00:00+00:00",
    }


def write_cells(root: Path, results: list[dict]) -> None:
    for r in results:
        write_json(r, root / r["cell"]["name"] / quality.RESULT)


def test_spread_is_mean_and_sample_sd_over_seeds() -> None:
    assert report.spread([0.2, 0.4]) == "0.300 ± 0.141"
    assert report.spread([0.25]) == "0.250"
    assert report.spread([]) == "–"
    assert report.spread([80.0, 90.0, 100.0], 1) == "90.0 ± 10.0"


def test_fill_replaces_only_what_is_between_markers() -> None:
    text = (
        "# Title\nprose before\n<!-- BEGIN GENERATED a -->\nold a\n<!-- END GENERATED a -->\n"
        "middle prose\n<!-- BEGIN GENERATED b -->\n<!-- END GENERATED b -->\nprose after\n"
    )
    out = report.fill(text, {"a": "| new |", "b": "B"})
    assert out == (
        "# Title\nprose before\n<!-- BEGIN GENERATED a -->\n| new |\n<!-- END GENERATED a -->\n"
        "middle prose\n<!-- BEGIN GENERATED b -->\nB\n<!-- END GENERATED b -->\nprose after\n"
    )
    assert report.fill(out, {"a": "| new |", "b": "B"}) == out  # idempotent
    with pytest.raises(SystemExit, match="markers missing in the page for: c"):
        report.fill(text, {"a": "x", "c": "y"})


def test_tables_say_what_is_not_run_and_how_to_run_it(tmp_path: Path) -> None:
    cells = quality.grid()
    results = {}
    for seed, mrr in ((0, 0.2), (1, 0.4)):
        c = Cell("ugaar", ASL, "doc2vec", "base", seed)
        results[c.name] = fake_result(c, mrr, medr=40 + 20 * seed)
    table = report.main_table(results, cells, "MRR")
    ugaar_row = next(line for line in table.splitlines() if line.startswith("| ugaar | doc2vec"))
    assert ugaar_row == "| ugaar | doc2vec | 2/3 | " + " | ".join(["0.300 ± 0.141"] * 6) + " |"
    dcca_row = next(line for line in table.splitlines() if line.startswith("| dcca | doc2vec"))
    assert "0/3, not run yet" in dcca_row
    chance = next(line for line in table.splitlines() if line.startswith("| chance"))
    assert chance.count("0.0075") == 6
    baseline = next(line for line in table.splitlines() if line.startswith("| syllable count"))
    assert baseline.count("0.0115") == 4 and baseline.count("–") == 2  # lyrics directions only
    assert "`.venv/bin/python benchmarks/quality.py --only ugaar-asl-doc2vec --seeds 2`" in table
    assert "`.venv/bin/python benchmarks/quality.py --only dcca-asl-doc2vec`" in table
    medr = report.main_table(results, cells, "MedR", commands=False)
    assert "| ugaar | doc2vec | 2/3 | 50.0 ± 14.1 |" in medr and "Not run yet" not in medr
    assert "| chance |  |  | 500.5 |" in medr


def test_evidence_table_and_setup_from_result_files(tmp_path: Path) -> None:
    write_cells(
        tmp_path,
        [
            fake_result(Cell("contrastive", ("audio", "sheet"), None, "base", 0), 0.8, medr=2),
            fake_result(Cell("ugaar", ASL, "doc2vec", "base", 0), 0.5, medr=30),
            fake_result(Cell("ugaar", ASL, "doc2vec", "adv0", 0), 0.4, sha="other"),
            fake_result(Cell("contrastive", ASL, "doc2vec", "random", 0), 0.01),
        ],
    )
    results = report.load_results(tmp_path)
    assert len(results) == 4
    cells = quality.grid()
    evidence = report.evidence_table(results, cells).splitlines()
    two = next(line for line in evidence if line.startswith("| contrastive, audio–sheet only"))
    assert two == "| contrastive, audio–sheet only | 1/3 | 0.800 | 0.800 | – | – | – |"
    ugaar = next(line for line in evidence if line.startswith("| ugaar |"))
    assert ugaar == "| ugaar | 1/3 | 0.500 | 0.500 | 0.5000 | 30.0 | 30.0 |"
    assert any(line.startswith("| dcca, audio–sheet only | 0/3, not run yet") for line in evidence)
    setup = report.setup_block(results, cells)
    assert "Cells done: 4 of 48" in setup
    assert "6 epochs, batch 64" in setup and "encoders' width 16" in setup
    assert "pools of 1,000 candidates, 10 draws, pool seed 0" in setup
    assert "**Warning**: the cells come from 2 different datasets" in setup  # sha 'abc' and 'other'
    assert "2 cores (Test CPU), 23.4 GiB RAM, torch 2.14.1, 1 torch thread" in setup
    assert "Training time of a trained cell: median 10 min" in setup  # the random cell (0 s) left out


def test_setup_warns_when_budgets_differ(tmp_path: Path) -> None:
    write_cells(
        tmp_path,
        [
            fake_result(Cell("ugaar", ASL, "doc2vec", "base", 0), 0.5, epochs=6),
            fake_result(Cell("ugaar", ASL, "doc2vec", "base", 1), 0.5, epochs=3),
        ],
    )
    setup = report.setup_block(report.load_results(tmp_path), quality.grid())
    assert "**Warning**: the cells differ in budget" in setup


def test_speed_blocks_show_results_or_the_command(tmp_path: Path) -> None:
    assert report.speed_block("search", tmp_path) == "not run yet: `.venv/bin/python benchmarks/speed.py --only search`"
    result = speed.record("search", ["rows", "ms"], [["10,000", "0.5"]], ["a note"], {})
    write_json(result, tmp_path / "search.json")
    block = report.speed_block("search", tmp_path)
    assert block.startswith("| rows | ms |\n|---|---:|\n| 10,000 | 0.5 |")
    assert "- a note" in block and "- load average" in block
    assert "`.venv/bin/python benchmarks/speed.py --only search`" in block


def test_the_page_has_a_marker_for_every_block() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = set(report.blocks())
    assert {f"speed-{s}" for s in speed.SECTIONS} <= names
    report.fill(text, {name: "x" for name in names})  # raises when a marker is missing


def test_the_defaults_table_gives_seeds_ablations_ceiling_and_the_missing_commands(tmp_path: Path) -> None:
    as_ = ("audio", "sheet")

    def timed(cell: Cell, mrr: float, steps: int) -> dict:
        r = fake_result(cell, mrr, medr=1)
        for d in r["figures"]["directions"].values():
            d.update(pool=800, chance_MRR=0.0091, ceiling_MRR=0.983)
        r["budget"] = {"max_time": cell.budget, "songs": 200, "threads": None, "epochs": None}
        r["evaluation"]["pool"] = None
        r["train"]["training"] = {"steps": steps}
        return r

    write_cells(
        tmp_path,
        [
            timed(Cell("contrastive", as_, None, "base", 0, "15m"), 0.6, 900),
            timed(Cell("contrastive", as_, None, "base", 1, "15m"), 0.7, 1000),
            timed(Cell("contrastive", as_, None, "noaug", 0, "15m"), 0.5, 1017),
            timed(Cell("contrastive", as_, None, "base", 0, "45m"), 0.8, 3000),
            fake_result(Cell("contrastive", as_, None, "base", 0), 0.3),  # the 0.1 budget: not in this table
        ],
    )
    block = report.defaults_block(report.load_results(tmp_path), quality.grid())
    lines = block.splitlines()
    assert "| chance |  |  | 0.0091 | 0.0091 |" in lines[2]
    assert lines[3].startswith("| ceiling (identical melodies tie) |  |  | 0.983 | 0.983 |")
    assert "| contrastive | 15m | 2/3 | 0.650 ± 0.071 | 0.650 ± 0.071 | 0.325 ± 0.035 | 1 | 900/1000 |" in lines
    assert "| contrastive, no augmentation | 15m | 1/1 | 0.500 | 0.500 | 0.250 | 1 | 1017 |" in lines
    assert "| contrastive | 45m | 1/1 | 0.800 | 0.800 | 0.400 | 1 | 3000 |" in lines
    assert "| dcca + ranking loss (`rank_weight=1`) | 15m | 0/3, not run yet | – | – | – | – | – |" in lines
    assert "evaluated on the whole test split (9 candidates)" in block
    assert "`.venv/bin/python benchmarks/quality.py --only dcca-as-rank-15m`" in block
    assert "--only contrastive-as-15m --seeds 2`" in block
    empty = report.defaults_block({}, quality.grid())
    assert "| cca (linear CCA on raw features) | 15m | 0/3, not run yet |" in empty


def test_lyrics_block_sets_the_lyrics_rows_beside_both_baselines_and_the_audio_sheet_run(tmp_path: Path) -> None:
    prosody = fake_result(Cell("contrastive", ASL, "prosody", "base", 0, "15m"), 0.02, medr=300)
    prosody["figures"]["baselines"]["onset_count"] = {
        d: {"MRR": 0.05, "MedR": 55.0} for d in ("lyrics->audio", "audio->lyrics")
    }
    write_cells(
        tmp_path,
        [
            fake_result(Cell("contrastive", ("audio", "sheet"), None, "base", 0, "15m"), 0.6, medr=2),
            prosody,
            fake_result(Cell("contrastive", ASL, "prosody", "notext", 0, "15m"), 0.01),
        ],
    )
    block = report.lyrics_block(report.load_results(tmp_path), quality.grid(), quality.REPO / "x").splitlines()
    assert next(x for x in block if x.startswith("| contrastive, audio + sheet |")).startswith(
        "| contrastive, audio + sheet | 1/3 | 0.600 |"
    )
    row = next(x for x in block if x.startswith("| contrastive, `prosody` lyrics |"))
    assert row.startswith("| contrastive, `prosody` lyrics | 1/3 | 0.020 | 0.020 | 0.020 | 0.020 | 0.020 | 300 |")
    assert any(
        x.startswith("| contrastive, `prosody` lyrics, prosody without the syllables' text | 1/1 |") for x in block
    )
    syllable = next(x for x in block if x.startswith("| syllable-count baseline"))
    assert syllable.count("| 0.01") == 4 and "| 86 |" in syllable  # 0.0115 with 3 digits
    onset = next(x for x in block if x.startswith("| onset-count baseline"))
    assert onset.count("0.050") == 2 and onset.count("–") == 2  # audio directions only
    assert "--root x" in block[-1]
    assert report.lyrics_block({}, quality.grid(), quality.REPO / "x").startswith(report.NOT_RUN)


def test_ugaar_block_pairs_each_seed_with_the_same_sessions_audio_sheet_run(tmp_path: Path) -> None:
    def timed(cell: Cell, mrr: float, steps: int, rate: float) -> dict:
        r = fake_result(cell, mrr, medr=2)
        r["train"]["training"] = {"steps": steps, "schedule": {"measured_step_seconds": rate}}
        return r

    ugaar, rerun = tmp_path / "quality", tmp_path / "rerun"
    write_cells(
        ugaar,
        [
            timed(Cell("ugaar", ASL, "doc2vec", "base", 0, "15m"), 0.63, 514, 1.67),
            timed(Cell("ugaar", ASL, "doc2vec", "base", 1, "15m"), 0.65, 520, 1.6),
            timed(Cell("ugaar", ASL, "doc2vec", "base", 2, "15m"), 0.66, 530, 1.6),  # no partner: not paired
            timed(Cell("contrastive", ("audio", "sheet"), None, "base", 0, "15m"), 0.9, 1000, 0.8),  # another day's
        ],
    )
    write_cells(
        rerun,
        [
            timed(Cell("contrastive", ("audio", "sheet"), None, "base", 0, "15m"), 0.61, 568, 1.52),
            timed(Cell("contrastive", ("audio", "sheet"), None, "base", 1, "15m"), 0.62, 570, 1.5),
        ],
    )
    root = quality.REPO / "x"
    block = report.ugaar_block(
        report.load_results(ugaar), quality.grid(), root, (report.load_results(rerun), quality.REPO / "y")
    )
    lines = block.splitlines()
    # the audio-sheet row is the same session's, not the other day's 0.9
    assert next(x for x in lines if x.startswith("| contrastive, audio + sheet |")).startswith(
        "| contrastive, audio + sheet | 2/3 | 0.615 ± 0.007 |"
    )
    assert next(x for x in lines if x.startswith("| ugaar, `doc2vec` lyrics |")).startswith(
        "| ugaar, `doc2vec` lyrics | 3/3 | 0.647 ± 0.015 |"
    )
    assert "| 0 | 0.610 | 568 (1.52 s) | 0.630 | 514 (1.67 s) | +0.020 |" in lines
    assert "| 1 | 0.620 | 570 (1.50 s) | 0.650 | 520 (1.60 s) | +0.030 |" in lines
    assert not any(x.startswith("| 2 |") for x in lines)
    assert lines[-1] == "| mean |  |  |  |  | 0.025 ± 0.007 |"
    assert "`--root y`" in block
    assert report.ugaar_block({}, quality.grid(), root, ({}, root)).startswith(report.NOT_RUN)


def test_the_windows_table_pairs_the_variants_that_were_run(tmp_path: Path) -> None:
    assert report.pieces_windows_block(tmp_path).startswith("not run yet")
    machine = {
        "nproc": 2,
        "cpu": "AMD EPYC",
        "ram_gib": 23.5,
        "torch": "2.14.1",
        "torch_threads": 2,
        "date": "2026-12-06",
    }

    def result(top1: float, steps: float, command: str) -> dict:
        stat = {"mean": top1, "min": top1 - 0.1, "max": top1 + 0.1}
        kinds = {k: {"top1": stat, "top5": stat, "MRR": stat} for k in ("recording", "excerpt", "page")}
        training = {"steps": {"mean": steps, "min": steps, "max": steps}, "valid_MRR": {"audio->sheet": stat}}
        summary = {
            "identify": kinds,
            "locate": {"passage": stat, "system": stat},
            "training": {**training, "train_items": 10},
        }
        return {"summary": summary, "seeds": [0, 1, 2], "command": command, "machine": machine}

    write_json(result(0.5, 700, "base"), tmp_path / "result-sw1-fp32.json")
    write_json(result(0.7, 650, "tw"), tmp_path / "result-tw5-sw1-fp32.json")
    block = report.pieces_windows_block(tmp_path)
    header, rule, first = block.splitlines()[:3]
    assert "passages only" in header and "recording windows" in header and "page windows" not in header
    assert first == "| identify from a recording, top-1 | 0.500 (0.40–0.60) | 0.700 (0.60–0.80) |"
    assert "| steps in 15 minutes | 700 (700–700) | 650 (650–650) |" in block
    assert "seeds 0, 1, 2, `base`" in block and "seeds 0, 1, 2, `tw`" in block


def test_the_budget_table_pairs_a_seed_at_both_budgets(tmp_path: Path) -> None:
    assert report.pieces_seed_pair_block("pieces-budget", tmp_path).startswith("not run yet")
    machine = {"nproc": 2, "cpu": "AMD EPYC", "ram_gib": 23.5, "torch": "2.14.1", "torch_threads": 2, "date": "d"}

    def run(seed: int, top1: float, steps: int) -> dict:
        figures = {"top1": top1, "top5": top1 + 0.1, "MRR": top1}
        return {
            "seed": seed,
            "identify": {k: figures for k in ("recording", "excerpt", "page")},
            "locate": {"passage": top1 / 2, "system": top1},
            "training": {"steps": steps, "valid_MRR": {"audio->sheet": top1}},
        }

    base = {"budget": "15m", "seeds": [0, 1], "runs": [run(0, 0.5, 700), run(1, 0.4, 690)], "command": "base"}
    more = {"budget": "45m", "seeds": [1], "runs": [run(1, 0.6, 2100)], "command": "more", "machine": machine}
    write_json(base, tmp_path / "result-sw1-fp32.json")
    assert report.pieces_seed_pair_block("pieces-budget", tmp_path).startswith("not run yet")  # no 45-minute run
    write_json(more, tmp_path / "result-45m-sw1-fp32.json")
    block = report.pieces_seed_pair_block("pieces-budget", tmp_path)
    lines = block.splitlines()
    assert lines[0] == "|  | seed 1, 15m | seed 1, 45m |"  # paired by seed: seed 1 against seed 1
    assert "| identify from a recording, top-1 | 0.400 | 0.600 |" in lines
    assert "| steps | 690 | 2100 |" in lines
    assert "`base`" in block and "`more`" in block


def test_a_pair_table_sets_a_variant_beside_the_default(tmp_path: Path) -> None:
    assert report.pieces_pair_block("pieces-precision", tmp_path).startswith("not run yet")
    machine = {"nproc": 2, "cpu": "AMD EPYC", "ram_gib": 23.5, "torch": "2.14.1", "torch_threads": 2, "date": "d"}

    def result(top1: float, steps: float, command: str) -> dict:
        stat = {"mean": top1, "min": top1 - 0.1, "max": top1 + 0.1}
        kinds = {k: {"top1": stat, "top5": stat, "MRR": stat} for k in ("recording", "excerpt", "page")}
        mrr = {"audio->sheet": stat, "sheet->audio": stat}
        training = {"steps": {"mean": steps, "min": steps - 50, "max": steps + 50}, "valid_MRR": mrr}
        summary = {"identify": kinds, "locate": {"passage": stat, "system": stat}, "training": training}
        return {
            "summary": summary,
            "seeds": [0, 1, 2],
            "budget": "15m",
            "data": "lmd-200w",
            "command": command,
            "machine": machine,
        }

    write_json(result(0.5, 700, "fp32"), tmp_path / "result-fp32.json")
    assert report.pieces_pair_block("pieces-precision", tmp_path).startswith("not run yet")  # no default run
    write_json(result(0.6, 1500, "bf16"), tmp_path / "result.json")
    lines = report.pieces_pair_block("pieces-precision", tmp_path).splitlines()
    assert lines[0] == "|  | float32 (`--no-amp`) | bfloat16 (the default) |"
    assert "| steps in the budget | 700 (650–750) | 1500 (1450–1550) |" in lines
    assert "| identify from a 10-s excerpt, top-1 | 0.500 (0.40–0.60) | 0.600 (0.50–0.70) |" in lines
    assert "| passage retrieval: test audio→sheet MRR | – | – |" in lines  # not measured: said, not invented
    assert any("`fp32`" in x for x in lines) and any("`bf16`" in x for x in lines)
    assert "result-sw1-fp32.json" in report.pieces_pair_block("pieces-width", tmp_path)  # its other half is missing
    assert any(" a seed on lmd-200w, the same" in x for x in lines)  # one dataset, named once
    write_json({**result(0.6, 1500, "bf16"), "data": "lmd-200w-sc"}, tmp_path / "result.json")
    two = report.pieces_pair_block("pieces-precision", tmp_path)
    assert "a seed on lmd-200w and lmd-200w-sc (the same songs and splits)" in two  # each named


def test_the_page_crops_table_names_each_cut_and_its_figures(tmp_path: Path) -> None:
    assert report.page_crops_block(tmp_path).startswith("not run yet")
    machine = {"nproc": 2, "cpu": "AMD EPYC", "ram_gib": 23.5, "torch": "2.14.1", "torch_threads": 2, "date": "d"}
    figures = {"top1": 0.25, "top5": 0.5, "MRR": 0.375, "queries": 52, "pieces": 198}
    result = {"page": {"system": figures, "staff-median": {**figures, "top1": 0.5}}, "split": "valid"}
    write_json(
        {**result, "run": "runs/contrastive-s0", "command": "crops", "machine": machine}, tmp_path / "page-crops.json"
    )
    lines = report.page_crops_block(tmp_path).splitlines()
    assert lines[0] == "| windows | top-1 | top-5 | MRR |"
    assert lines[2].startswith("| `system`: as `identify` cuts them") and lines[2].endswith("| 0.250 | 0.500 | 0.375 |")
    assert lines[3].startswith("| `staff-median`:") and "| 0.500 |" in lines[3]
    assert (
        "52 pages of the valid songs among 198 pieces; the run `contrastive-s0`" in lines[-1] and "`crops`" in lines[-1]
    )
