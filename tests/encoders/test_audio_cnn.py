"""The `cnn` audio encoder on synthesized melodies: conformance, features, options, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from encoder_items import SAMPLE_RATE, synthesize
from ugaar_kit_plugins.audio_cnn.encoder import AudioCNN

from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.inference.embedding import cut_windows, sample_rate_of
from ugaar_kit.testing import check_encoder


def small(**values: object) -> AudioCNN:
    return AudioCNN.from_options({"channels": "8,16,16", "hidden": 32, "dim": 16, **values})  # type: ignore[return-value]


def test_conformance_on_wav_files(item_files: list[tuple[Path, Path]]):
    enc = AudioCNN()
    raws = [enc.load_item(wav) for wav, _ in item_files[:4]]
    assert len({r.shape[0] for r in raws}) == 4, "items of different lengths"
    checked = check_encoder(AudioCNN, raws)
    assert checked.output_dim == 128
    # a clip shorter than one pooling window, and one whose frame count is odd
    check_encoder(small, [raws[0], raws[1][:300], raws[2][: 1024 * 37]])


def test_log_mel_features(item_files: list[tuple[Path, Path]]):
    enc = AudioCNN()
    wave = synthesize([(69, 8)])  # 2 s of A4 (440 Hz, harmonics 880 and 1320)
    feats = enc.featurize(torch.from_numpy(wave))
    assert feats.shape == (80, 1 + len(wave) // 1024)
    assert abs(float(feats.mean())) < 1e-4 and abs(float(feats.std(unbiased=False)) - 1) < 1e-3
    import torchaudio

    centres = (
        torchaudio.functional.melscale_fbanks(1025, 30.0, 8000.0, 80, SAMPLE_RATE).argmax(dim=0) * SAMPLE_RATE / 2048
    )
    loudest = int(feats[:, 5:-5].mean(dim=1).argmax())
    assert abs(float(centres[loudest]) - 440.0) < 40.0, f"loudest band centred at {float(centres[loudest])} Hz"
    # max_seconds cuts long audio (the first seconds are kept)
    long = torch.from_numpy(np.tile(wave, 20))  # 40 s
    cut = AudioCNN.from_options({"max_seconds": 10}).featurize(long)
    assert cut.shape[1] == 1 + int(10 * SAMPLE_RATE) // 1024
    raw = AudioCNN.from_options({"normalize": "none"}).featurize(torch.from_numpy(wave))
    assert float(raw.max()) <= 80.0 and float(raw.max() - raw.min()) == pytest.approx(80.0, abs=1e-3)


def test_log_frequency_bands_resolve_a_semitone_where_mel_bands_do_not():
    # 84 bands from C2 (65.4 Hz) to 8 kHz: 12.1 an octave, band k centred near MIDI 37 + k
    log = AudioCNN.from_options({"scale": "log", "n_mels": 84, "f_min": 65.4, "normalize": "none"})
    mel = AudioCNN.from_options({"normalize": "none"})

    def loudest(enc: AudioCNN, midi: int) -> int:
        # a pure tone (no harmonics to resolve it higher up), 2 s
        t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
        wave = np.sin(2 * np.pi * 440.0 * 2 ** ((midi - 69) / 12) * t).astype(np.float32)
        return int(enc.featurize(torch.from_numpy(wave))[:, 5:-5].mean(dim=1).argmax())

    assert log.featurize(torch.zeros(4096) + 0.1).shape[0] == 84
    for midi in (45, 57, 69, 81):  # A2, A3, A4, A5
        assert abs(loudest(log, midi) - (midi - 37)) <= 1
        assert loudest(log, midi + 1) == loudest(log, midi) + 1  # a semitone up: the next band
    assert loudest(mel, 57) == loudest(mel, 58)  # A3 and B-flat 3 share a mel band
    assert log.feature_key() != AudioCNN.from_options({"n_mels": 84, "f_min": 65.4, "normalize": "none"}).feature_key()
    with pytest.raises(OptionError, match="f_min"):
        AudioCNN.from_options({"scale": "log", "f_min": 0.0})


def test_feature_key_follows_featurize_options():
    base = AudioCNN().feature_key()
    assert AudioCNN.from_options({"n_mels": 64}).feature_key() != base
    assert AudioCNN.from_options({"hop": 512}).feature_key() != base
    assert AudioCNN.from_options({"sample_rate": 16000}).feature_key() != base
    assert AudioCNN.from_options({"normalize": "none"}).feature_key() != base
    # options that only change the network keep the cached features
    assert AudioCNN.from_options({"dropout": 0.3, "dim": 32, "channels": "8,16"}).feature_key() == base


def test_options_are_validated():
    with pytest.raises(OptionError, match="f_max"):
        AudioCNN.from_options({"sample_rate": 8000})  # f_max 8000 > 4000
    with pytest.raises(OptionError, match="audio.n_mels"):
        AudioCNN.from_options({"n_mels": 2})
    with pytest.raises(OptionError, match="channels"):
        AudioCNN.from_options({"channels": ","})  # an empty value means the arch's default channels


def test_embed_windows_long_recordings(tmp_path: Path):
    """`embed` cuts a 1-D waveform into windows using the encoder's sample rate."""
    import soundfile as sf

    sf.write(tmp_path / "long.wav", synthesize([(60, 4)] * 12, rate=16000), 16000)  # 12 s at 16 kHz on disk
    enc = AudioCNN()
    raw = enc.load_item(tmp_path / "long.wav")
    assert raw.ndim == 1 and sample_rate_of(enc) == SAMPLE_RATE
    seconds = raw.shape[0] / SAMPLE_RATE
    assert seconds == pytest.approx(12.0, abs=1e-3)
    windows = cut_windows(raw.shape[0], SAMPLE_RATE, 5.0, 2.5)
    assert len(windows) == 4
    embs = enc.encode([raw[a:b] for a, b in windows])
    assert embs.shape == (4, 128) and torch.isfinite(embs).all()


def test_load_item_errors_name_the_file(tmp_path: Path):
    enc = AudioCNN()
    (tmp_path / "notes.wav").write_text("not audio")
    with pytest.raises(InputError, match=r"notes\.wav: not a readable audio file"):
        enc.load_item(tmp_path / "notes.wav")
    (tmp_path / "empty.flac").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.flac: empty file"):
        enc.load_item(tmp_path / "empty.flac")


def test_onsets_row_counts_the_notes_and_survives_augmentation():
    from ugaar_kit.build.synth import synthesize as render

    notes = [(60 + 2 * i, 0.3 * i, 0.25) for i in range(7)] + [(72, 2.6, 0.2), (72, 2.9, 0.2)]  # a repeated note
    wave = torch.from_numpy(render(notes))
    enc = small(onsets=True, stretch=0.3, freq_mask=8, time_mask=0.3)
    feats = enc.featurize(wave)
    plain = AudioCNN.from_options({}).featurize(wave)
    assert feats.shape == (81, plain.shape[1]) and torch.equal(feats[:80], plain)
    assert float(feats[80].sum()) == len(notes)
    onset_times = torch.nonzero(feats[80]).flatten() * 1024 / 22050
    assert torch.allclose(onset_times, torch.tensor([n[1] for n in notes]), atol=0.06)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):  # stretched and masked: every onset kept, in order
        aug = enc.augment(feats, g)
        assert float(aug[80].sum()) == len(notes)
        assert aug.shape[0] == 81 and set(aug[80].unique().tolist()) <= {0.0, 1.0, 2.0}
    assert enc.feature_key() != small().feature_key()


def test_onset_count_reaches_the_embedding(item_files: list[tuple[Path, Path]]):
    enc = AudioCNN()
    raws = [enc.load_item(wav) for wav, _ in item_files[:3]]
    check_encoder(lambda: small(onsets=True), raws)
    model = small(onsets=True).eval()
    feats = model.featurize(raws[0])
    fewer = feats.clone()
    fewer[80] = 0.0
    fewer[80, 0] = 1.0
    with torch.no_grad():
        a, b = model(model.collate([feats])), model(model.collate([fewer]))
    assert not torch.allclose(a, b), "the onset count must change the embedding"
