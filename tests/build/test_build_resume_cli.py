"""The built folder: DatasetFolder reads it, a re-run resumes, and the CLI builds it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from build_songs import PASSAGES_PER_SONG, SONG_IDS, trimmed
from typer.testing import CliRunner
from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

from ugaar_kit.build.builder import BuildOptions, build_dataset
from ugaar_kit.cli.app import build_app
from ugaar_kit.interfaces.dataset import DatasetFolder


def test_dataset_folder_reads_the_build(built) -> None:  # noqa: ANN001
    out, summary = built
    folder = DatasetFolder(out)
    assert len(folder.items) == summary.passages == len(SONG_IDS) * PASSAGES_PER_SONG
    assert folder.modalities() == ("audio", "sheet", "lyrics")
    for item in folder.items:
        assert item.audio.is_file() and item.sheet.is_file() and item.lyrics
        assert item.lyrics == item.lyrics.lower() and item.meta["syllable_count"] == len(item.meta["syllables"])
        assert all((out / v).is_file() for v in item.meta["audio_versions"])
    info = json.loads((out / "dataset.json").read_text())
    assert info["format_version"] == 1 and info["passages"] == summary.passages and info["complete"]
    assert sum(info["splits"].values()) == summary.passages
    assert summary.built == summary.passages and not summary.failed


def test_rerun_builds_nothing_and_keeps_the_manifest(lmd_files: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    shutil.copytree(lmd_files.parent, tmp_path / "src")
    songs = lambda: trimmed(LmdLyricsSource().songs([tmp_path / "src" / "Sentence_Parsing"]), 3)  # noqa: E731
    options = BuildOptions(workers=1)
    first = build_dataset(songs(), out, options, progress=False)
    manifest = (out / "manifest.jsonl").read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    second = build_dataset(songs(), out, options, progress=False)
    assert first.built == 9 and second.built == 0 and second.reused == 9
    assert (out / "manifest.jsonl").read_bytes() == manifest
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == stamps
    victim = out / json.loads(manifest.splitlines()[4])["audio"]
    victim.unlink()
    third = build_dataset(songs(), out, options, progress=False)
    assert third.built == 1 and victim.is_file() and (out / "manifest.jsonl").read_bytes() == manifest
    fourth = build_dataset(songs(), out, BuildOptions(workers=1, height=64), progress=False)
    assert fourth.built == 9  # other render settings: every file is rebuilt
    assert not list(out.rglob(".*.tmp"))


def test_cli_build(lmd_files: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(lmd_files / f"{SONG_IDS[2]}.npy", src)  # the shortest of the three (14 lines)
    (src / "broken.npy").write_bytes(b"\x93NUMPY not really")
    out = tmp_path / "ds"
    runner = CliRunner()
    args = ["dataset", "build", str(src), "--format", "lmd-lyrics", "--out", str(out), "--workers", "2", "-q"]
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert "14 passages from 1 songs" in result.output and "broken.npy" in result.output
    assert len(DatasetFolder(out).items) == 14
    result = runner.invoke(build_app(), ["dataset", "build", str(src), "--format", "nope", "--out", str(out)])
    assert result.exit_code == 2 and "unknown dataset 'nope'" in result.output
    assert "Traceback" not in result.output


def test_cli_build_two_lines_a_passage(lmd_files: Path, tmp_path: Path) -> None:
    """`--lines 2` joins lines 1-2, 3-4, ...: 14 lines give 7 passages, each with the syllables
    and notes of both its lines in order."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(lmd_files / f"{SONG_IDS[2]}.npy", src)
    one, two = tmp_path / "one", tmp_path / "two"
    for out, extra in ((one, []), (two, ["--lines", "2"])):
        args = ["dataset", "build", str(src), "--format", "lmd-lyrics", "--out", str(out), "--workers", "1", "-q"]
        result = CliRunner().invoke(build_app(), args + extra)
        assert result.exit_code == 0, result.output
    lines = sorted(DatasetFolder(one).items, key=lambda it: it.meta["passage"])
    pairs = sorted(DatasetFolder(two).items, key=lambda it: it.meta["passage"])
    assert len(lines) == 14 and len(pairs) == 7
    for k, item in enumerate(pairs):
        a, b = lines[2 * k], lines[2 * k + 1]
        assert item.lyrics == f"{a.lyrics} {b.lyrics}"
        assert len(item.meta["notes"]) == len(a.meta["notes"]) + len(b.meta["notes"])
        assert [n[0] for n in item.meta["notes"]] == [n[0] for n in a.meta["notes"] + b.meta["notes"]]
    assert json.loads((two / "dataset.json").read_text())["build_options"]["lines"] == 2
