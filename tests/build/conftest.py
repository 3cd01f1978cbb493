"""A small dataset built once from real LMD songs, shared by the builder tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from build_songs import SONG_IDS, trimmed

from ugaar_kit.build.builder import BuildOptions, BuildSummary, build_dataset


@pytest.fixture(scope="session")
def lmd_files(lmd_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with three real LMD songs and the sample's songs.json beside it."""
    root = tmp_path_factory.mktemp("lmd")
    folder = root / "Sentence_Parsing"
    folder.mkdir()
    for sid in SONG_IDS:
        shutil.copy(lmd_dir / "Sentence_Parsing" / f"{sid}.npy", folder / f"{sid}.npy")
    shutil.copy(lmd_dir / "songs.json", root / "songs.json")
    return folder


@pytest.fixture(scope="session")
def built(lmd_files: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildSummary]:
    """The three songs (6 passages each) built in one process, with one extra audio version."""
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    out = tmp_path_factory.mktemp("built")
    options = BuildOptions(workers=1, audio_versions=("bright@1.25",))
    summary = build_dataset(trimmed(LmdLyricsSource().songs([lmd_files])), out, options, progress=False)
    return out, summary
