"""`ugaar-kit demo` end to end: a small variant here, the full demo under the `slow` marker."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ugaar_kit.cli.app import build_app
from ugaar_kit.store.reader import Store

runner = CliRunner()


def run_demo(out: Path, *args: str) -> dict:
    result = runner.invoke(build_app(), ["demo", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    assert "Test-split retrieval" in result.stdout and "Everything is in" in result.stdout
    assert "Identify: the whole recording" in result.stdout and "Locate: " in result.stdout
    serve = next(line.split() for line in result.stdout.splitlines() if "ugaar-kit serve" in line)
    assert serve[:3] == ["ugaar-kit", "serve", str(out / "test.h5")]
    assert serve[3:] == ["--run", str(out / "runs" / "ugaar"), "--data", str(out / "data")]
    return json.loads((out / "results.json").read_text())


def check_serve(out: Path) -> None:
    """The printed `serve` command's app answers over the demo's store: its recorded folder
    holds the files the page shows, and a recording is identified against the dataset's songs."""
    from starlette.testclient import TestClient

    from ugaar_kit.registry.discovery import get_registry
    from ugaar_kit.serve.app import create_app
    from ugaar_kit.serve.service import Service

    service = Service(out / "test.h5", out / "runs" / "ugaar", get_registry(), data=out / "data")
    try:
        with TestClient(create_app(service)) as client:
            query = next(p for p in (out / "test-split" / "audio").rglob("*") if p.is_file())
            body = client.post("/api/search", files={"file": (query.name, query.read_bytes())}, data={"k": "3"}).json()
            assert body["query_item"] is not None  # the query's file is in the store, and its score beside it:
            assert [p.split("/")[0] for p in body["query_passage"]] == ["sheet"]
            sheet = body["results"][0]["results"]["sheet"][0]
            image = client.get(client.get("/api/items/" + sheet["id"].replace("#", "%23")).json()["media"])
            assert image.status_code == 200 and image.headers["content-type"] == "image/png"
            song = json.loads((out / "data" / "songs.jsonl").read_text().splitlines()[0])
            recording = out / "data" / song["audio"]
            found = client.post("/api/identify", files={"file": ("song.flac", recording.read_bytes())}).json()
            assert found["pieces"] and found["location"]["passage"]
    finally:
        service.close()


def check_outputs(out: Path, summary: dict) -> None:
    assert set(summary["evaluations"]) == {"ugaar", "contrastive", "dcca"}
    ugaar = summary["evaluations"]["ugaar"]["directions"]
    assert set(ugaar) == {f"{q}->{c}" for q, c in itertools.permutations(("audio", "sheet", "lyrics"), 2)}
    assert set(summary["evaluations"]["dcca"]["directions"]) == {"audio->lyrics", "lyrics->audio"}
    assert set(summary["evaluations"]["contrastive"]["directions"]) == {"audio->sheet", "sheet->audio"}
    assert summary["evaluations"]["ugaar"]["baselines"]["syllable_count"]  # beside the lyrics directions
    for name in ("ugaar", "contrastive", "dcca"):
        run = out / "runs" / name
        assert (run / "model.pt").is_file() and (run / "curves.png").is_file()
        assert list((out / "plots" / name).glob("*.png"))
    with Store(out / "test.h5") as store:
        assert set(store.modalities) == {"audio", "sheet", "lyrics"}
        assert store.rows("sheet") == summary["evaluations"]["ugaar"]["items"]
    pieces = summary["pieces"]  # one identification and one localisation, on the first test song
    assert pieces["identified"] and len(pieces["identified"]) <= 3
    songs = [json.loads(line) for line in (out / "data" / "songs.jsonl").read_text().splitlines()]
    # whole songs, trained on passages only: page windows cost the demo its 5 minutes
    assert json.loads((out / "data" / "dataset.json").read_text())["build_options"]["train_page_windows"] is False
    assert "page_window" not in (out / "data" / "manifest.jsonl").read_text()
    song = next(s for s in songs if s["song"] == pieces["piece"] and s["split"] == "test")
    assert pieces["located"]["passage"] in {p["id"] for p in song["passages"]}
    assert pieces["truth"]["passage"] in {p["id"] for p in song["passages"]}
    [audio_query, lyrics_query] = summary["searches"]
    assert len(audio_query["hits"]["sheet"]) == 5
    # the query's own passage is named as the store names it, so the table can mark it
    own = audio_query["expected"]["sheet"]
    assert (out / "data" / own).is_file() and own.startswith("sheet/")
    with Store(out / "test.h5") as store:
        assert own in set(store.sources("sheet").tolist())
    assert set(lyrics_query["hits"]) == {"audio", "sheet"}


def test_small_demo_runs_every_step_and_resumes(tmp_path):
    out = tmp_path / "demo"
    summary = run_demo(out, "--limit-songs", "14", "--epochs", "1", "--batch-size", "32")
    check_outputs(out, summary)
    check_serve(out)
    # each model trains under its own wall-clock budget, at the default encoders and recipe
    for name, seconds in (("ugaar", 90.0), ("contrastive", 90.0), ("dcca", 45.0)):
        info = json.loads((out / "runs" / name / "run.json").read_text())
        assert info["training"]["max_time"] == seconds and info["training"]["schedule"]["name"] == "cosine"
    config = (out / "runs" / "ugaar" / "config.toml").read_text()
    assert 'arch = "strided"' in config and "stretch = 0.15" in config
    stamps = {p: p.stat().st_mtime_ns for p in [*(out / "runs").glob("*/model.pt"), out / "data" / "manifest.jsonl"]}
    again = run_demo(out, "--limit-songs", "14", "--epochs", "1", "--batch-size", "32")
    assert again["evaluations"] == summary["evaluations"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # finished steps are skipped, not redone


def test_a_bad_budget_is_one_line_and_writes_nothing(tmp_path):
    result = runner.invoke(build_app(), ["demo", "--out", str(tmp_path / "demo"), "--max-time", "nan"])
    assert result.exit_code != 0
    assert "--max-time: 'nan' is not a duration above zero" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "demo").exists()


@pytest.mark.slow
def test_full_demo(tmp_path):
    """The README's main job. On this 2-core machine it takes under 7 minutes (docs/quickstart.md)."""
    out = tmp_path / "demo"
    summary = run_demo(out)
    check_outputs(out, summary)
    a2s = summary["evaluations"]["ugaar"]["directions"]["audio->sheet"]
    assert a2s["MRR"] > 3 * a2s["chance_MRR"]


def test_a_bad_recipe_is_one_line_naming_the_file_and_writes_nothing(tmp_path):
    recipe = tmp_path / "mine.toml"
    recipe.write_text('source = "musicxml"\nstore = "x"\n[[models]]\nname = "x"\nmax_time = "soon"\n', encoding="utf-8")
    result = runner.invoke(build_app(), ["demo", "--out", str(tmp_path / "demo"), "--recipe", str(recipe)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert str(recipe) in result.output and "'components' must be a dict" in result.output
    assert not (tmp_path / "demo").exists()


def test_the_default_recipe_is_the_design_card_models_and_their_budgets():
    from ugaar_kit.recipes.demo import DemoPlan, demo_models, load_recipe

    recipe = load_recipe()
    assert (recipe.source, recipe.store) == ("musicxml", "ugaar")
    models = {m.name: m for m in demo_models(DemoPlan(dim=24), recipe)}
    assert {n: m.max_time for n, m in models.items()} == {"ugaar": 90.0, "contrastive": 90.0, "dcca": 45.0}
    assert models["ugaar"].components["lyrics"] == ("doc2vec", {"dim": 24})
    assert models["dcca"].components["objective"] == ("dcca", {"batch_weight": 1.0})
    assert recipe.searches == (("audio", ("sheet",)), ("lyrics", ("audio", "sheet")))
