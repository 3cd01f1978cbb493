"""Long recordings in bounded memory (issue 20): decoded and resampled in blocks, cut into windows
as they come, embedded a part at a time; the same rows and embeddings as the whole-file path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ugaar_kit.data.media import load_audio, stream_audio
from ugaar_kit.errors import InputError
from ugaar_kit.inference.embedding import EmbedSettings, embed_paths
from ugaar_kit.interfaces.rows import waveform_rows, window_parts
from ugaar_kit.store.reader import Store


def noise(path: Path, seconds: float, rate: int, channels: int = 2, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.1 * rng.standard_normal((max(1, int(seconds * rate)), channels))).astype(np.float32), rate)
    return path


@pytest.mark.parametrize("rate", [44100, 48000, 22050, 16000, 8000])
@pytest.mark.parametrize("block", [0.05, 0.37, 30.0])
def test_block_wise_decode_equals_whole_file_decode(tmp_path, rate, block):
    path = noise(tmp_path / "a.wav", 3.3, rate)
    whole = load_audio(path, 22050)
    blocks = list(stream_audio(path, 22050, block_seconds=block))
    got = torch.cat(blocks)
    assert got.shape == whole.shape
    torch.testing.assert_close(got, whole, atol=1e-6, rtol=0)
    assert block >= 3.3 or len(blocks) > 1


def test_block_wise_decode_of_flac_and_bad_files(tmp_path):
    flac = tmp_path / "a.flac"
    sf.write(flac, np.random.default_rng(1).uniform(-0.5, 0.5, (30000, 1)).astype(np.float32), 44100)
    torch.testing.assert_close(
        torch.cat(list(stream_audio(flac, 16000, 0.1))), load_audio(flac, 16000), atol=1e-6, rtol=0
    )
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), dtype=np.float32), 8000)
    with pytest.raises(InputError, match="no audio samples"):
        list(stream_audio(empty, 8000))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage")
    with pytest.raises(InputError, match="not a readable audio file"):
        list(stream_audio(bad, 8000))


@pytest.mark.parametrize(("window", "hop"), [(1.0, 0.5), (1.0, 1.0), (0.3, 1.0), (0.0, 0.5), (100.0, 50.0)])
@pytest.mark.parametrize("part_rows", [1, 3, 64])
def test_windows_cut_as_the_blocks_come_equal_the_whole_recording_s(window, hop, part_rows):
    x = torch.randn(10 * 237 + 3, generator=torch.Generator().manual_seed(0))
    whole = waveform_rows(x, 10, window, hop, Path("x"))
    blocks = [x[i : i + 41] for i in range(0, len(x), 41)]
    parts = list(window_parts(blocks, 10, window, hop, Path("x"), part_rows))
    assert all(len(p.raws) <= part_rows for p in parts)
    assert [r.tolist() for p in parts for r in p.raws] == [r.tolist() for r in whole.raws]
    assert [f for p in parts for f in p.fragments] == whole.fragments
    assert [t for p in parts for t in p.start] == whole.start and [t for p in parts for t in p.end] == whole.end
    assert parts[-1].seconds == whole.seconds and not any(p.seconds for p in parts[:-1])


def test_a_long_recording_is_embedded_in_parts_with_the_rows_of_a_short_ones(run, tmp_path, monkeypatch):
    """Parts of 3 rows: a 12-s recording at 44.1 kHz makes 4 parts, and the store gets the rows
    (ids, times, embeddings within 1e-4) the whole-file path gives."""
    import ugaar_kit.interfaces.rows as rows_module

    path = noise(tmp_path / "in/long.wav", 12.3, 44100)
    whole = tmp_path / "whole.h5"
    monkeypatch.setattr(rows_module, "PART_ROWS", 10**6)
    embed_paths(run, [tmp_path / "in"], whole, EmbedSettings(window=1.0, hop=0.5))
    monkeypatch.setattr(rows_module, "PART_ROWS", 3)
    parts = tmp_path / "parts.h5"
    for workers in (0, 1):
        parts.unlink(missing_ok=True)
        embed_paths(run, [tmp_path / "in"], parts, EmbedSettings(window=1.0, hop=0.5, workers=workers))
        with Store(whole) as a, Store(parts) as b:
            assert list(a.ids("audio")) == list(b.ids("audio")) and len(a.ids("audio")) == 24
            np.testing.assert_allclose(a.metadata("audio")["start"], b.metadata("audio")["start"])
            np.testing.assert_allclose(a.embeddings("audio")[:], b.embeddings("audio")[:], atol=1e-4)
    encoder = run.encoders["audio"]
    ref = waveform_rows(encoder.load_item(path), encoder.options.sample_rate, 1.0, 0.5, path)
    streamed = [r for p in encoder.embed_parts(path, 1.0, 0.5) for r in p.raws]
    for a, b in zip(ref.raws, streamed):
        np.testing.assert_allclose(encoder.featurize(a), encoder.featurize(b), atol=1e-5)


PEAK = """
import json, resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, capture_output=True)
print(json.dumps(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
"""


def peak_kib(*cmd: object) -> int:
    """The peak resident memory of one command (KiB), measured in a process of its own."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK, *map(str, cmd)], capture_output=True, text=True, check=True, timeout=600
    )
    return int(json.loads(out.stdout))


def test_an_hour_long_recording_is_embedded_in_bounded_memory(run_dir, tmp_path):
    """An hour at 22.05 kHz is 318 MB as float32 samples (decoded whole, with its resampled copy,
    about a gigabyte); embedded a block at a time it costs a few MB more than a 10-s file."""
    long_in, short_in = tmp_path / "long", tmp_path / "short"
    rate, seconds = 22050, 3600.0
    long_in.mkdir()
    with sf.SoundFile(long_in / "hour.wav", "w", samplerate=rate, channels=1, subtype="PCM_16") as fh:
        rng = np.random.default_rng(0)
        for _ in range(int(seconds / 60)):
            fh.write((0.1 * rng.standard_normal(60 * rate)).astype(np.float32))
    noise(short_in / "ten.wav", 10.0, rate, channels=1)
    cli = [sys.executable, "-m", "ugaar_kit.testing.store_cli", "embed"]
    opts = ["--run", run_dir, "--workers", "0", "--window", "5", "--hop", "2.5"]
    short = peak_kib(*cli, short_in, *opts, "--out", tmp_path / "short.h5")
    long = peak_kib(*cli, long_in, *opts, "--out", tmp_path / "long.h5")
    with Store(tmp_path / "long.h5") as store:
        assert store.rows("audio") == 1439
    assert long - short < 120 * 1024, f"an hour took {(long - short) / 1024:.0f} MiB more than 10 s"
