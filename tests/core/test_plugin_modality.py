"""A fourth modality from a third-party distribution, driven through the CLI end to end.

The distribution (an entry point in the `ugaar_kit` group, found through `PYTHONPATH` as pip
would install it, nothing registered in-process) brings the modality `notes`: a melody as its
MIDI pitches in a `.notes` file, read by the encoder `pitches`. A manifest lists each melody's
recording and its notes file; then, in separate processes, as a user would: `dataset build
--format manifest`, `train --audio flat --encoder notes=pitches`, `eval`, `embed` a folder and
`search` it with a notes file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from plugin_factory import NOTES_PLUGIN, make_distribution

RATE = 8000


def write_songs(root: Path, n: int = 40, seed: int = 0) -> Path:
    """`n` melodies of 6 notes: a recording (sines) and a `.notes` file each, in a manifest."""
    rng = np.random.default_rng(seed)
    (root / "wav").mkdir(parents=True)
    (root / "notes").mkdir()
    rows = ["id,song,audio,file:notes"]
    for i in range(n):
        pitches = rng.integers(55, 80, size=6)
        t = np.arange(int(0.25 * RATE)) / RATE
        wave = np.concatenate([0.3 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) for p in pitches])
        soundfile.write(root / "wav" / f"m{i}.wav", wave.astype(np.float32), RATE)
        (root / "notes" / f"m{i}.notes").write_text("\n".join(str(int(p)) for p in pitches) + "\n", encoding="utf-8")
        rows.append(f"m{i},song{i},wav/m{i}.wav,notes/m{i}.notes")
    (root / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root / "manifest.csv"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_distribution(tmp_path_factory.mktemp("site"), "ugaar-notes", "ugaar_notes", NOTES_PLUGIN, "0.2.0")


def cli(site: Path, *args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    env["UGAAR_KIT_STRICT_PLUGINS"] = "1"
    cmd = [sys.executable, "-m", "ugaar_kit", *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, f"{' '.join(cmd[2:])}\n{done.stdout}\n{done.stderr}"
    return done


def test_a_plugin_modality_builds_trains_evaluates_embeds_and_searches(site: Path, tmp_path: Path) -> None:
    manifest = write_songs(tmp_path / "mine")
    data, run, store = tmp_path / "data", tmp_path / "run", tmp_path / "notes.h5"

    listed = cli(site, "plugins").stdout
    assert "pitches" in listed and "ugaar-notes" in listed

    cli(site, "dataset", "build", manifest, "--format", "manifest", "--out", data, "--split", "0.7,0.15,0.15")
    info = json.loads((data / "dataset.json").read_text(encoding="utf-8"))
    assert info["modalities"] == ["audio", "notes"] and info["items"] == 40

    # the notes encoder is the modality's default: naming the modality alone would do
    trained = cli(
        site,
        "train",
        "--data", data, "--out", run,
        "--audio", "flat", "-o", "audio.n_mels=16", "-o", "audio.frames=8",
        "--encoder", "notes=pitches",
        "--objective", "contrastive", "-o", "objective.dim=16",
        "--epochs", "3", "--batch-size", "8", "--workers", "0", "--lr", "0.01",
    )  # fmt: skip
    assert "training audio/flat, notes/pitches with objective 'contrastive'" in trained.stderr
    run_info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert run_info["modalities"] == ["audio", "notes"]
    assert run_info["components"]["notes"]["distribution"] == "ugaar-notes"

    figures = json.loads(cli(site, "eval", run, "--data", data, "--split", "test", "--json").stdout)
    assert set(figures["directions"]) == {"audio->notes", "notes->audio"}
    assert figures["baselines"] == {}  # no baseline needs only audio and notes
    for row in figures["directions"].values():
        assert 0 < row["MRR"] <= 1 and row["pool"] == figures["items"]

    cli(site, "embed", data / "notes", data / "audio", "--run", run, "--out", store)
    query = data / "notes" / sorted(p.name for p in (data / "notes").iterdir())[0]
    found = json.loads(cli(site, "search", query, "--index", store, "--run", run, "--json").stdout)
    assert found["query_modality"] == "notes" and list(found["results"]) == ["audio"]  # by its extension
    assert len(found["results"]["audio"]) == 10
    assert "notes" in cli(site, "store", "info", store).stdout
    from ugaar_kit.store.reader import Store

    with Store(store) as embedded:
        assert embedded.modalities == ("audio", "notes")
        assert embedded.rows("notes") == 40 and embedded.rows("audio") >= 40
        assert embedded.dim("notes") == run_info["shared_dim"]
