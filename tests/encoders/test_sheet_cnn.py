"""The `cnn` sheet encoder on engraved melodies: conformance, resizing, inversion, options."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ugaar_kit_plugins.sheet_cnn.encoder import SheetCNN

from ugaar_kit.errors import InputError
from ugaar_kit.testing import check_encoder


def test_conformance_on_engraved_pngs(item_files: list[tuple[Path, Path]]):
    enc = SheetCNN()
    raws = [enc.load_item(png) for _, png in item_files[:4]]
    widths = [enc.featurize(r).shape[1] for r in raws]
    assert len(set(widths)) == 4, f"snippets of different widths: {widths}"
    checked = check_encoder(SheetCNN, raws)
    assert checked.output_dim == 128


def test_featurize_fixed_height_ink_is_one(item_files: list[tuple[Path, Path]]):
    enc = SheetCNN()
    raw = enc.load_item(item_files[0][1])
    h, w = raw.shape
    feats = enc.featurize(raw)
    assert feats.shape == (64, round(w * 64 / h * 0.5))  # half the width that keeps the aspect (width_scale)
    assert 0.0 <= float(feats.min()) and float(feats.max()) <= 1.0
    # engraved music is mostly paper: paper -> 0, ink -> 1
    assert float((feats < 0.05).float().mean()) > 0.6
    assert float(feats.max()) > 0.9
    # the five staff lines are the peaks of ink per row, evenly spaced (a staff fills most of
    # the height: notes go little beyond it in these melodies)
    rows = feats.mean(dim=1).tolist()
    peaks = [i for i in range(1, 63) if rows[i] > 0.25 and rows[i] >= rows[i - 1] and rows[i] > rows[i + 1]]
    assert len(peaks) == 5, f"staff lines at rows {peaks}"
    gaps = [b - a for a, b in zip(peaks, peaks[1:])]
    assert max(gaps) - min(gaps) <= 2 and 6 <= min(gaps), f"staff line gaps {gaps}"


def test_wide_snippets_are_squeezed_not_cropped():
    raw = torch.ones(32, 4000)
    raw[:, 3990:] = 0.0  # ink in the last columns only
    feats = SheetCNN.from_options({"max_width": 512}).featurize(raw)
    assert feats.shape == (64, 512)
    assert float(feats[:, -1].min()) > 0.9, "the ink at the right end survived"
    assert float(feats.sum()) == pytest.approx(64 * 10 * 512 / 4000, rel=0.02), "and kept its amount"
    assert float(feats[:, :400].max()) < 0.01


def test_width_scale_narrows_a_snippet_and_keeps_its_rows():
    raw = torch.ones(32, 400)
    raw[10, :] = 0.0  # a line of ink across the snippet
    raw[:, 100:104] = 0.0  # and a bar line
    full = SheetCNN.from_options({"width_scale": 1.0}).featurize(raw)
    half = SheetCNN.from_options({"width_scale": 0.5}).featurize(raw)
    assert full.shape == (64, 800) and half.shape == (64, 400)
    assert int(full.mean(dim=1).argmax()) == int(half.mean(dim=1).argmax())  # pitch is read on the same row
    assert int(full.mean(dim=0).argmax()) // 2 == int(half.mean(dim=0).argmax())  # things keep their place
    assert float(half.sum()) == pytest.approx(float(full.sum()) / 2, rel=0.02)


def test_options_saved_before_width_scale_keep_the_full_width():
    from ugaar_kit_plugins.sheet_cnn.encoder import SheetCNNOptions

    from ugaar_kit.interfaces import options as opts

    saved = opts.to_dict(SheetCNNOptions(width_scale=0.5))
    saved.pop("width_scale")  # a run recorded before the option existed
    assert opts.build(SheetCNNOptions, saved).width_scale == 1.0
    assert opts.build(SheetCNNOptions, {"height": 48}).width_scale == SheetCNNOptions().width_scale  # a user's


def test_feature_key_follows_featurize_options():
    base = SheetCNN().feature_key()
    assert SheetCNN.from_options({"height": 96}).feature_key() != base
    assert SheetCNN.from_options({"width_scale": 0.25}).feature_key() != base
    assert SheetCNN.from_options({"max_width": 800}).feature_key() != base
    assert SheetCNN.from_options({"dim": 32, "dropout": 0.0, "pooling": "max"}).feature_key() == base


def test_load_item_errors_name_the_file(tmp_path: Path):
    enc = SheetCNN()
    (tmp_path / "score.pdf").write_bytes(b"%PDF-1.4\n")
    with pytest.raises(InputError, match=r"score\.pdf: multi-page PDF / whole pages are not supported yet"):
        enc.load_item(tmp_path / "score.pdf")
    (tmp_path / "blank.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"blank\.png: empty file"):
        enc.load_item(tmp_path / "blank.png")
    (tmp_path / "lyrics.png").write_text("la la la")
    with pytest.raises(InputError, match=r"lyrics\.png: not a readable PNG or JPEG image"):
        enc.load_item(tmp_path / "lyrics.png")
