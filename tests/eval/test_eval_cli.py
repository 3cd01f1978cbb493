"""`ugaar-kit eval` on the command line: a trained run, the table, plots, one-line errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ugaar_kit.cli.app import build_app
from ugaar_kit.testing.data import write_songs
from ugaar_kit.testing.runs import write_run


def one_line_error(result) -> str:
    """The message of a refused command, checked to be one line without a traceback."""
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_trained_run_gives_the_trainers_validation_figures(invoke, registry, tmp_path):
    data = write_songs(tmp_path / "songs", splits={"train": 12, "valid": 4, "test": 4})
    run = tmp_path / "run"
    args = ["--data", data, "--out", run, "--audio", "evaltone", "--sheet", "evalbars", "--lyrics", "evalbag"]
    args += ["--objective", "evalnce", "--epochs", "2", "--batch-size", "8", "--workers", "0"]
    trained = CliRunner().invoke(build_app(registry), ["train", *map(str, args)])
    assert trained.exit_code == 0, trained.output
    final = json.loads((run / "run.json").read_text())["final"]["valid"]

    result = invoke(run, "--data", data, "--split", "valid", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["run"] == json.loads((run / "run.json").read_text())["run_id"]
    assert got["items"] == 13 and got["split"] == "valid"
    assert set(got["directions"]) == set(final) and len(final) == 6
    for d, row in got["directions"].items():
        for key in ("R@1", "R@5", "R@10", "MRR", "MedR", "pool", "chance_MRR"):
            assert row[key] == pytest.approx(final[d][key], abs=1e-6), f"{d} {key}"


def table_rows(output: str) -> dict[str, list[str]]:
    """Direction -> the numbers in its table row."""
    rows = {}
    for line in output.splitlines():
        m = re.search(r"(\w+->\w+)", line)
        if m:
            rows[m.group(1)] = re.findall(r"\d+(?:\.\d+)?", line.replace(m.group(1), ""))
    return rows


def test_table_shows_every_direction_and_the_baseline_beside_lyrics_only(invoke, run3, songs):
    result = invoke(run3, "--data", songs)
    assert result.exit_code == 0, result.output
    figures = json.loads(invoke(run3, "--data", songs, "--json").stdout)
    rows = table_rows(result.stdout)
    assert list(rows) == list(figures["directions"])
    for d, numbers in rows.items():
        # R@1 R@5 R@10 MRR MedR pool chance ceiling, then the baseline's MRR and MedR for lyrics directions
        assert len(numbers) == (10 if "lyrics" in d else 8), (d, numbers)
        assert numbers[3] == f"{figures['directions'][d]['MRR']:.3f}"
        assert numbers[7] == f"{figures['directions'][d]['ceiling_MRR']:.4f}"
        if "lyrics" in d:
            assert numbers[8] == f"{figures['baselines']['syllable_count'][d]['MRR']:.4f}"
    assert "baseline MRR" in result.stdout and "pool" in result.stdout


def test_table_with_pools_shows_the_spread(invoke, run2, songs):
    result = invoke(run2, "--data", songs, "--pool", 12, "--draws", 3)
    assert result.exit_code == 0, result.output
    assert "random pools of 12" in result.stdout
    assert "baseline" not in result.stdout
    for numbers in table_rows(result.stdout).values():
        assert numbers[10] == "12"  # R@1 ± s, R@5 ± s, R@10 ± s, MRR ± s, MedR ± s, then the pool


def test_plots_written(invoke, run3, run2, songs, tmp_path):
    result = invoke(run3, "--data", songs, "--plots", tmp_path / "p3", "--json")
    assert result.exit_code == 0, result.output
    directions = json.loads(result.stdout)["directions"]
    expected = {f"ranks_{d.replace('->', '_to_')}.png" for d in directions} | {"similarity_audio_sheet.png"}
    assert {p.name for p in (tmp_path / "p3").iterdir()} == expected and len(expected) == 7
    for name in expected:
        with Image.open(tmp_path / "p3" / name) as im:
            assert im.format == "PNG" and im.width >= 400 and im.height >= 300
            assert np.asarray(im.convert("L")).std() > 10  # something is drawn
    result = invoke(run2, "--data", songs, "--plots", tmp_path / "p2")
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "p2").iterdir()} == {
        "ranks_audio_to_sheet.png",
        "ranks_sheet_to_audio.png",
        "similarity_audio_sheet.png",
    }


def test_dataset_folder_that_does_not_exist(invoke, run3, tmp_path):
    msg = one_line_error(invoke(run3, "--data", tmp_path / "nowhere"))
    assert msg == f"error: {tmp_path / 'nowhere'}: no such dataset folder"


def test_empty_split(invoke, run3, songs):
    msg = one_line_error(invoke(run3, "--data", songs, "--split", "valid"))
    assert msg.endswith("the valid split is empty (items per split: test 46)")


def test_run_needs_a_modality_the_dataset_lacks(invoke, run3, tmp_path):
    data = write_songs(tmp_path / "no-lyrics", splits={"test": 3}, modalities=("audio", "sheet"))
    msg = one_line_error(invoke(run3, "--data", data))
    assert msg.endswith(
        "the run needs lyrics but no item of the test split has it (the run embeds audio, sheet, lyrics)"
    )


def test_pool_larger_than_the_candidates(invoke, run2, songs):
    msg = one_line_error(invoke(run2, "--data", songs, "--pool", 43))
    assert msg == "error: --pool 43 is larger than the 42 candidates of the test split"


def test_not_a_run_folder(invoke, songs, tmp_path):
    (tmp_path / "empty").mkdir()
    msg = one_line_error(invoke(tmp_path / "empty", "--data", songs))
    assert "not a run folder" in msg


def test_missing_data_option(invoke, run2):
    result = invoke(run2)
    assert result.exit_code == 2 and "--data" in result.output and "Traceback" not in result.output


def test_items_without_a_run_modality_are_left_out_and_said(invoke, registry, tmp_path):
    data = write_songs(tmp_path / "songs", splits={"test": 4})
    rows = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines()]
    del rows[0]["sheet"]
    (data / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = write_run(tmp_path / "run", ("audio", "sheet"), kind="eval", run_id="evalrun-1", registry=registry)
    result = invoke(run, "--data", data, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items"] == len(rows) - 1
    assert f"test: 1 of {len(rows)} items lack one of audio, sheet; left out" in result.stderr


def test_piped_tables_are_never_cut(invoke, invoke_piped, run3, songs):
    """Standard output that is not a terminal (a pipe, a file) and no COLUMNS: the whole table,
    every number whole, where rich alone would squeeze it into 80 columns."""
    piped = invoke_piped(run3, "--data", songs)
    assert piped.exit_code == 0, piped.output
    figures = json.loads(invoke(run3, "--data", songs, "--json").stdout)
    assert "…" not in piped.stdout
    rows = table_rows(piped.stdout)
    assert list(rows) == list(figures["directions"])
    assert all(numbers[3] == f"{figures['directions'][d]['MRR']:.3f}" for d, numbers in rows.items())
    assert max(len(line) for line in piped.stdout.splitlines()) > 80
