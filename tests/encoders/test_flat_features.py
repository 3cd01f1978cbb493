"""The `flat` audio and sheet encoders: fixed-size raw features, flattened, no parameters.

`check_encoder` (which skips gradient checks for encoders without parameters) runs on both, and
the exact values are checked here: determinism, output shape and dtype, options and a
`weights_only` save/load round trip."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from encoder_items import SAMPLE_RATE, synthesize
from ugaar_kit_plugins.audio_cnn.encoder import AudioCNN
from ugaar_kit_plugins.flat_features.audio import FlatAudio
from ugaar_kit_plugins.flat_features.sheet import FlatSheet
from ugaar_kit_plugins.sheet_cnn.encoder import SheetCNN

from ugaar_kit.errors import OptionError
from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.state import encoder_state, restore_encoder
from ugaar_kit.registry.discovery import get_registry
from ugaar_kit.testing import check_encoder


def roundtrip(enc: FlatAudio | FlatSheet) -> FlatAudio | FlatSheet:
    buf = io.BytesIO()
    torch.save(encoder_state(enc), buf)
    buf.seek(0)
    return restore_encoder(torch.load(buf, weights_only=True), type(enc))  # type: ignore[return-value]


def test_registered_as_flat_for_audio_and_sheet():
    reg = get_registry()
    assert reg.encoder("audio", "flat") is FlatAudio
    assert reg.encoder("sheet", "flat") is FlatSheet


@pytest.mark.parametrize("cls", [FlatAudio, FlatSheet])
def test_fixed_width_output_no_parameters_and_round_trip(cls, item_files: list[tuple[Path, Path]]):
    enc = cls()
    paths = [wav if cls is FlatAudio else png for wav, png in item_files[:4]]
    raws = [enc.load_item(p) for p in paths]
    assert len({r.shape[-1] for r in raws}) == 4, "items of different lengths"
    feats = [enc.featurize(r) for r in raws]
    for a, r in zip(feats, raws):
        assert torch.equal(a, enc.featurize(r)), "featurize is not deterministic"
        assert a.shape == (enc.output_dim,) and a.dtype == torch.float32
    assert enc.output_dim == (80 * 64 if cls is FlatAudio else 32 * 128)
    assert list(enc.parameters()) == [] and enc.trainable_parameters() == []
    batch = enc.collate(feats)
    assert batch.mask is None and batch.data.shape == (4, enc.output_dim)
    out = enc(batch)
    assert out.dtype == torch.float32 and torch.equal(out, torch.stack(feats))  # the features, unchanged
    assert torch.equal(enc.encode(raws[:1])[0], out[0])  # batch of one, same row
    twin = roundtrip(enc)
    assert twin.options == enc.options
    assert torch.equal(twin(twin.collate([twin.featurize(r) for r in raws])), out)
    assert opts.build(cls.Options, opts.to_dict(enc.options)) == enc.options
    check_encoder(cls, raws)


def test_audio_is_the_cnn_log_mel_resized_along_time():
    wave = torch.from_numpy(synthesize([(69, 4), (81, 4)]))  # 1 s of A4, then 1 s of A5
    cnn = AudioCNN().featurize(wave)  # (80, T): the same front end
    assert cnn.shape == (80, 1 + len(wave) // 1024)
    flat = FlatAudio().featurize(wave).reshape(80, 64)
    # each band's mean survives resizing; the first half is A4, the second A5: order is kept
    torch.testing.assert_close(flat.mean(dim=1), cnn.mean(dim=1), atol=0.05, rtol=0)
    first, second = int(flat[:, 4:28].mean(1).argmax()), int(flat[:, 36:60].mean(1).argmax())
    assert second > first + 5, (first, second)
    # at exactly `frames` frames nothing is resized: the cnn features, flattened
    exact = torch.from_numpy(np.tile(wave.numpy(), 2))[: 63 * 1024]
    torch.testing.assert_close(FlatAudio().featurize(exact), AudioCNN().featurize(exact).reshape(-1))
    # a longer passage, up-sampled from fewer frames, and options of the shared front end
    enc = FlatAudio.from_options({"frames": 16, "n_mels": 40, "normalize": "none"})
    assert enc.output_dim == 640
    assert enc.featurize(torch.from_numpy(np.tile(wave.numpy(), 3))).shape == (640,)
    assert enc.featurize(wave[:2000]).shape == (640,)  # 2 frames up-sampled to 16
    assert float(enc.featurize(wave).max()) <= 80.0  # dB, not standardised


def test_sheet_is_ink_resized_to_a_fixed_frame(item_files: list[tuple[Path, Path]]):
    raw = FlatSheet().load_item(item_files[0][1])
    feats = FlatSheet().featurize(raw).reshape(32, 128)
    assert 0.0 <= float(feats.min()) and float(feats.max()) <= 1.0
    assert float((feats < 0.05).float().mean()) > 0.5  # mostly paper: 0
    # the sheet cnn's ink image at height 32, resized to 128 px wide, is the same picture
    cnn = SheetCNN.from_options({"height": 32}).featurize(raw)
    assert float(cnn.mean()) == pytest.approx(float(feats.mean()), abs=0.02)
    # a left-half black image: ink on the left, paper on the right, whatever its aspect ratio
    img = np.ones((50, 300), np.float32)
    img[:, :150] = 0.0
    half = FlatSheet.from_options({"height": 8, "width": 20}).featurize(img).reshape(8, 20)
    assert torch.allclose(half[:, :9], torch.ones(8, 9)) and torch.allclose(half[:, 11:], torch.zeros(8, 9))


def test_feature_key_follows_the_options():
    base = FlatAudio().feature_key()
    assert FlatAudio.from_options({"frames": 32}).feature_key() != base
    assert FlatAudio.from_options({"n_mels": 64}).feature_key() != base
    assert base != AudioCNN().feature_key()  # not the cnn encoder's cache
    sheet = FlatSheet().feature_key()
    assert FlatSheet.from_options({"width": 64}).feature_key() != sheet
    assert FlatSheet.from_options({"height": 16}).feature_key() != sheet


def test_bad_input_and_options_are_one_line_errors():
    with pytest.raises(ValueError, match="empty waveform"):
        FlatAudio().featurize(torch.zeros(0))
    with pytest.raises(ValueError, match=r"greyscale image \(H, W\), got shape \(4, 4, 3\)"):
        FlatSheet().featurize(np.ones((4, 4, 3), np.float32))
    with pytest.raises(OptionError, match="frames"):
        FlatAudio.from_options({"frames": 0})
    with pytest.raises(OptionError, match="f_max"):
        FlatAudio.from_options({"sample_rate": SAMPLE_RATE, "f_max": 12000})
    with pytest.raises(OptionError, match="width"):
        FlatSheet.from_options({"width": "wide"})
    with pytest.raises(ValueError, match="empty batch"):
        FlatSheet().collate([])
