"""benchmarks/budget.py: the command a cell runs is the user's, and the table aggregates seeds."""

from __future__ import annotations

import sys
from pathlib import Path

import budget
import report


def result(tag: str, seed: int, mrr: float, steps: int) -> dict:
    row = {"MRR": mrr, "R@1": mrr - 0.1, "MedR": 2.0, "pool": 800, "chance_MRR": 0.0092, "ceiling_MRR": 0.983}
    return {
        "cell": {"tag": tag, "objective": "contrastive", "max_time": "15m", "seed": seed, "options": []},
        "directions": {"audio->sheet": row, "sheet->audio": {**row, "MRR": mrr + 0.01}},
        "training": {"steps": steps},
        "machine": {"nproc": 2, "cpu": "x", "ram_gib": 1, "torch": "2", "torch_threads": 2},
        "finished": "2026-12-02T08:00:00+00:00",
    }


def test_the_cell_runs_what_a_user_types():
    cmd = budget.train_command(Path("d"), Path("r"), "contrastive", "15m", 2, ["audio.gru=true"])
    assert cmd[:3] == [sys.executable, "-m", "ugaar_kit"]
    assert budget.shown(cmd) == (
        "ugaar-kit train --data d --out r --objective contrastive --audio cnn --sheet cnn --max-time 15m --seed 2 "
        "-o audio.gru=true"
    )


def test_the_table_gives_mean_and_sd_over_seeds_beside_ceiling_and_chance():
    rows = [result("defaults", 0, 0.6, 900), result("defaults", 1, 0.7, 1000), result("noaug", 0, 0.5, 1017)]
    lines = budget.table(rows).splitlines()
    assert lines[2].startswith("| defaults contrastive | 15m | 0,1 | 0.650 ± 0.071 | 0.660 ± 0.071 |")
    assert lines[2].endswith("| 0.983 | 0.0092 | 900/1000 |")
    assert lines[3].startswith("| noaug contrastive | 15m | 0 | 0.500 |")


def test_the_report_block_names_the_command(tmp_path):
    for r in [result("defaults", 0, 0.6, 900)]:
        folder = tmp_path / "defaults-contrastive-15m-s0"
        folder.mkdir()
        budget.write_json(r, folder / budget.RESULT)
    block = report.budget_block(tmp_path)
    assert "0.600" in block and "benchmarks/budget.py --table" in block
    assert report.budget_block(tmp_path / "none").startswith("not run yet")
