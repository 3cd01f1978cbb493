"""A faster builder writes the same files: the SHA-256 of every PNG and WAV of two small builds,
recorded with the builder of 0.1.0 (commit 74e8106) in tests/fixtures/build_0_1_0.json, must
not change: identical sheet images and identical audio at the same settings.

    .venv/bin/python tests/build/test_same_files.py   # writes the record; only when outputs are meant to change

The builds: three LMD songs of the shared sample, six passages each, with an extra audio version
(as tests/build/conftest.py builds them), and the first two demo songs (music21's corpus) with
their lyrics printed under the notes."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
from build_songs import SONG_IDS, trimmed

from ugaar_kit.build.builder import BuildOptions, build_dataset

RECORD = Path(__file__).parent.parent / "fixtures" / "build_0_1_0.json"


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.suffix in (".png", ".wav", ".flac")
    }


def build_lmd(lmd_dir: Path, out: Path, workers: int = 1, **options: object) -> Path:
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    src = out.parent / "lmd-src" / "Sentence_Parsing"
    src.mkdir(parents=True, exist_ok=True)
    for sid in SONG_IDS:
        shutil.copy(lmd_dir / "Sentence_Parsing" / f"{sid}.npy", src / f"{sid}.npy")
    shutil.copy(lmd_dir / "songs.json", src.parent / "songs.json")
    opts = BuildOptions(workers=workers, audio_versions=("bright@1.25",), audio_format="wav", **options)  # type: ignore[arg-type]
    build_dataset(trimmed(LmdLyricsSource().songs([src])), out, opts, progress=False)
    return out


def build_demo_songs(out: Path, workers: int = 1) -> Path:
    from ugaar_kit_plugins.dataset_musicxml.source import MusicXMLSource

    from ugaar_kit.build.demo import build_demo

    build_demo(
        out,
        MusicXMLSource,
        limit=2,
        progress=False,
        workers=workers,
        print_lyrics=True,
        audio_format="wav",
        whole_songs=False,  # the passages of 0.1.0 only
    )
    return out


@pytest.mark.data
@pytest.mark.parametrize("workers", [1, 2])
def test_the_builder_writes_the_files_of_0_1_0(lmd_dir: Path, tmp_path: Path, workers: int) -> None:
    record = json.loads(RECORD.read_text())
    got = digests(build_lmd(lmd_dir, tmp_path / "lmd", workers))
    assert got == record["lmd"]
    assert digests(build_demo_songs(tmp_path / "demo", workers)) == record["demo"]


@pytest.mark.data
def test_flac_files_hold_the_samples_of_the_wav_files(lmd_dir: Path, tmp_path: Path) -> None:
    """The default audio format loses nothing: each FLAC decodes to its WAV's 16-bit samples, in
    well under half the bytes."""
    import soundfile as sf

    wav = build_lmd(lmd_dir, tmp_path / "wav")
    flac = tmp_path / "flac"
    from ugaar_kit_plugins.dataset_lmd.source import LmdLyricsSource

    src = tmp_path / "lmd-src" / "Sentence_Parsing"
    build_dataset(trimmed(LmdLyricsSource().songs([src])), flac, BuildOptions(workers=1), progress=False)
    wavs = sorted((wav / "audio").rglob("[0-9][0-9][0-9].wav"))
    assert len(wavs) == 18
    for w in wavs:
        f = flac / w.relative_to(wav).with_suffix(".flac")
        a, rate_a = sf.read(w, dtype="int16")
        b, rate_b = sf.read(f, dtype="int16")
        assert rate_a == rate_b and a.shape == b.shape and (a == b).all()
    assert sum(p.stat().st_size for p in (flac / "audio").rglob("*.flac")) < 0.5 * sum(p.stat().st_size for p in wavs)
    manifest = (flac / "manifest.jsonl").read_text()
    assert ".flac" in manifest and ".wav" not in manifest


if __name__ == "__main__":
    import tempfile

    lmd = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/lmd-lyrics-melody")
    with tempfile.TemporaryDirectory() as tmp:
        record = {
            "lmd": digests(build_lmd(lmd, Path(tmp) / "lmd")),
            "demo": digests(build_demo_songs(Path(tmp) / "demo")),
        }
    RECORD.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    print(f"{RECORD}: {len(record['lmd'])} + {len(record['demo'])} files")
