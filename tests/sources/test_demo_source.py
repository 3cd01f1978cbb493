"""The demo's songs: real scores from music21's corpus read by the `musicxml` source."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner
from ugaar_kit_plugins.dataset_musicxml.source import MusicXMLSource

from ugaar_kit.build.demo import WORKS, corpus_dir, demo_files, demo_songs
from ugaar_kit.cli.app import build_app
from ugaar_kit.dataset import Skipped
from ugaar_kit.lyrics_text import normalize_lyrics

pytest.importorskip("music21")


def test_demo_files_are_installed_english_first() -> None:
    files = demo_files()
    assert all(f.path.is_file() and f.path.is_relative_to(corpus_dir()) for f in files)
    assert [f.work.language for f in files[:4]] == ["en"] * 4
    ids = [f.song_id for f in files]
    assert len(ids) == len(set(ids)) and "bach-bwv10.7" in ids
    assert ids.index("bach-bwv2.6") < ids.index("bach-bwv10.7")  # BWV numbers in natural order
    assert all(w.licence for w in WORKS)


def test_first_demo_songs_carry_language_licence_and_lyrics() -> None:
    songs = [s for s in demo_songs(MusicXMLSource, limit=5) if not isinstance(s, Skipped)]
    assert [s.id for s in songs] == [
        "beach-prayer_of_a_tired_child",
        "johnson_j_r-lift_every_voice",
        "leadSheet-fosterBrownHair",
        "liliuokalani-aloha_oe",
        "luca-gloria",
    ]
    lift = songs[1]
    assert lift.meta["language"] == "en" and "CC0" in lift.meta["licence"]
    assert lift.passages[0].lyrics == "Lift ev'ry voice and sing,"
    assert normalize_lyrics(lift.passages[0].lyrics) == "lift ev ry voice and sing"
    assert len(lift.passages) >= 10
    for song in songs:
        for p in song.passages:
            assert 1 <= len(p.syllables) <= 10 and p.notes
            assert all(0 <= s.note < len(p.notes) for s in p.syllables)


def test_whole_demo_size_and_duplicates_skipped() -> None:
    got = list(demo_songs(MusicXMLSource))
    songs = [s for s in got if not isinstance(s, Skipped)]
    skipped = {s.path.rsplit("/", 1)[-1]: s.reason for s in got if isinstance(s, Skipped)}
    passages = sum(len(s.passages) for s in songs)
    assert 1_000 <= passages <= 3_000 and len(songs) >= 150
    # BWV 112.5 sets the tune and text of BWV 104.6, which is kept (its other file has no lyrics).
    assert skipped["bwv112.5-sc.mxl"] == "duplicate: shares lines or melodies with bach-bwv104.6"
    assert skipped["bwv112.5.mxl"] == "no part has lyrics"
    assert "bach-bwv104.6" in {s.id for s in songs}
    assert sum(s.meta["language"] == "de" for s in songs) == len(songs) - 6


def test_demo_list_command() -> None:
    result = CliRunner().invoke(build_app(), ["dataset", "demo", "--list", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "johnson_j_r-lift_every_voice" in result.output and "2 songs" in result.output


def test_demo_build_command_writes_a_dataset_folder(tmp_path) -> None:  # noqa: ANN001
    pytest.importorskip("ugaar_kit.build.builder")
    from ugaar_kit.dataset import DatasetFolder

    out = tmp_path / "demo"
    result = CliRunner().invoke(build_app(), ["dataset", "demo", "--out", str(out), "--limit", "3", "--workers", "1"])
    assert result.exit_code == 0, result.output
    expected = [s for s in demo_songs(MusicXMLSource, limit=3) if not isinstance(s, Skipped)]
    folder = DatasetFolder(out)
    assert len(folder.items) == sum(len(s.passages) for s in expected) == 52
    assert folder.modalities() == ("audio", "sheet", "lyrics")
    assert {it.meta["song_id"] for it in folder.items} == {s.id for s in expected}
    for it in folder.items:
        assert it.lyrics == normalize_lyrics(it.meta["lyrics_raw"], "en") and it.lyrics
        assert "Public domain" in it.meta["licence"] and it.audio.is_file() and it.sheet.is_file()
