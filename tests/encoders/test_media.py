"""Decoding audio and images: values, resampling, and one-line InputErrors for bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from encoder_items import SAMPLE_RATE, engrave_png, png_of, synthesize

from ugaar_kit.data.media import load_audio, load_image
from ugaar_kit.errors import InputError


def _error(fn, *args) -> InputError:  # noqa: ANN001
    with pytest.raises(InputError) as info:
        fn(*args)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(args[0]))
    return info.value


# -- audio -------------------------------------------------------------------------------------
def test_load_audio_values_mono_and_resampled(tmp_path: Path):
    wave = synthesize([(69, 2), (72, 2)])
    sf.write(tmp_path / "mono.wav", wave, SAMPLE_RATE)
    got = load_audio(tmp_path / "mono.wav", SAMPLE_RATE)
    assert got.dtype == torch.float32 and got.shape == (len(wave),)
    assert np.allclose(got.numpy(), wave, atol=1e-4)  # 16-bit PCM

    stereo = np.stack([wave, 0.5 * wave], axis=1)
    sf.write(tmp_path / "stereo.flac", stereo, SAMPLE_RATE)
    mono = load_audio(tmp_path / "stereo.flac", SAMPLE_RATE)
    assert np.allclose(mono.numpy(), 0.75 * wave, atol=1e-4)

    down = load_audio(tmp_path / "mono.wav", 16000)
    assert abs(down.shape[0] - len(wave) * 16000 / SAMPLE_RATE) <= 1
    # the 440 Hz tone keeps its pitch after resampling: spectral peak within one FFT bin
    seg = down[:8000].numpy()
    peak = np.argmax(np.abs(np.fft.rfft(seg * np.hanning(len(seg))))) * 16000 / len(seg)
    assert abs(peak - 440.0) < 2.5


def test_load_audio_ogg_and_mp3(tmp_path: Path):
    wave = synthesize([(64, 4)])
    for ext, fmt in ((".ogg", "OGG"), (".mp3", "MP3")):
        sf.write(tmp_path / f"a{ext}", wave, SAMPLE_RATE, format=fmt)
        got = load_audio(tmp_path / f"a{ext}", SAMPLE_RATE)
        assert abs(got.shape[0] - len(wave)) < 0.05 * len(wave)
        assert got.abs().max() > 0.1


def test_load_audio_bad_files(tmp_path: Path):
    assert "no such file" in _error(load_audio, tmp_path / "missing.wav", SAMPLE_RATE).problem
    (tmp_path / "empty.wav").write_bytes(b"")
    assert "empty file" in _error(load_audio, tmp_path / "empty.wav", SAMPLE_RATE).problem
    (tmp_path / "text.wav").write_text("these are lyrics, not audio\n")
    assert "not a readable audio file" in _error(load_audio, tmp_path / "text.wav", SAMPLE_RATE).problem
    (tmp_path / "image.flac").write_bytes(engrave_png([(60, 2)]))
    assert "not a readable audio file" in _error(load_audio, tmp_path / "image.flac", SAMPLE_RATE).problem
    sf.write(tmp_path / "zero.wav", np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    assert "no audio samples" in _error(load_audio, tmp_path / "zero.wav", SAMPLE_RATE).problem
    full = (tmp_path / "zero.wav").read_bytes()
    (tmp_path / "header.wav").write_bytes(full[:20])
    assert "not a readable audio file" in _error(load_audio, tmp_path / "header.wav", SAMPLE_RATE).problem
    (tmp_path / "folder.wav").mkdir()
    assert "not a file" in _error(load_audio, tmp_path / "folder.wav", SAMPLE_RATE).problem
    bad = np.full(100, np.nan, dtype=np.float32)
    sf.write(tmp_path / "nan.wav", bad, SAMPLE_RATE, subtype="FLOAT")
    assert "NaN" in _error(load_audio, tmp_path / "nan.wav", SAMPLE_RATE).problem


# -- images ------------------------------------------------------------------------------------
def test_load_image_greyscale_and_transparency(tmp_path: Path):
    arr = np.full((10, 30), 255, dtype=np.uint8)
    arr[4:6, :] = 0
    (tmp_path / "lines.png").write_bytes(png_of(arr))
    img = load_image(tmp_path / "lines.png")
    assert img.dtype == torch.float32 and img.shape == (10, 30)
    assert img[5].max() == 0.0 and img[0].min() == 1.0

    rgba = np.zeros((10, 30, 4), dtype=np.uint8)  # black ink only where opaque, as resvg draws
    rgba[4:6, :, 3] = 255
    (tmp_path / "alpha.png").write_bytes(png_of(rgba, "RGBA"))
    img = load_image(tmp_path / "alpha.png")
    assert img[5].max() == 0.0 and img[0].min() == 1.0  # transparent -> white paper

    from PIL import Image

    Image.fromarray(arr).convert("RGB").save(tmp_path / "lines.jpg", quality=95)
    jpg = load_image(tmp_path / "lines.jpg")
    assert jpg.shape == (10, 30) and jpg[5].max() < 0.15 and jpg[0].min() > 0.85


def test_load_image_bad_files(tmp_path: Path):
    assert "no such file" in _error(load_image, tmp_path / "missing.png").problem
    (tmp_path / "empty.png").write_bytes(b"")
    assert "empty file" in _error(load_image, tmp_path / "empty.png").problem
    (tmp_path / "page.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    problem = _error(load_image, tmp_path / "page.pdf").problem
    assert problem == "multi-page PDF / whole pages are not supported yet: crop passages to PNG"
    (tmp_path / "text.png").write_text("not an image")
    assert "not a readable PNG or JPEG image" in _error(load_image, tmp_path / "text.png").problem
    png = engrave_png([(60, 2), (64, 2)])
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    assert "not a readable PNG or JPEG image" in _error(load_image, tmp_path / "cut.png").problem
    from PIL import Image

    Image.new("L", (8, 8), 255).save(tmp_path / "small.gif")
    assert "GIF images are not supported" in _error(load_image, tmp_path / "small.gif").problem
    sf.write(tmp_path / "sound.png", synthesize([(60, 2)]), SAMPLE_RATE, format="WAV")
    assert "not a readable PNG or JPEG image" in _error(load_image, tmp_path / "sound.png").problem
