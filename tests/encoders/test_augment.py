"""Training-time augmentation: deterministic for a generator, shape-keeping, off when zero."""

from __future__ import annotations

import torch
from ugaar_kit_plugins.audio_cnn.encoder import AudioCNN
from ugaar_kit_plugins.sheet_cnn.encoder import SheetCNN

from ugaar_kit.toolkit.augment import log_uniform, mask_span, shift_rows, stretch


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_helpers():
    x = torch.arange(12.0).reshape(3, 4)
    assert stretch(x, 2.0).shape == (3, 8) and stretch(x, 0.01).shape == (3, 1)
    assert torch.equal(stretch(x, 1.0), x)
    assert shift_rows(x, 1).tolist() == [[0, 0, 0, 0], [0, 1, 2, 3], [4, 5, 6, 7]]
    assert shift_rows(x, -1).tolist() == [[4, 5, 6, 7], [8, 9, 10, 11], [0, 0, 0, 0]]
    masked = mask_span(torch.ones(10, 50), 1, 50, gen(3))
    zero_columns = (masked == 0).all(0)
    assert (masked[:, ~zero_columns] == 1).all()  # whole columns, one span
    idx = zero_columns.nonzero().flatten().tolist()
    assert idx == list(range(idx[0], idx[-1] + 1)) if idx else True
    factors = [log_uniform(gen(s), 0.15) for s in range(200)]
    assert min(factors) >= 1 / 1.15 - 1e-9 and max(factors) <= 1.15 + 1e-9
    assert min(factors) < 0.9 and max(factors) > 1.1


def test_audio_augment_is_seeded_and_keeps_the_bands():
    enc = AudioCNN()
    x = torch.randn(80, 120)
    a, b = enc.augment(x, gen(1)), enc.augment(x, gen(1))
    assert torch.equal(a, b) and a.shape[0] == 80
    assert 120 / 1.15 - 1 <= a.shape[1] <= 120 * 1.15 + 1
    assert not torch.equal(enc.augment(x, gen(2)), a)
    off = AudioCNN.from_options({"stretch": 0, "freq_mask": 0, "time_mask": 0})
    assert torch.equal(off.augment(x, gen(1)), x)


def test_sheet_augment_is_seeded_and_stays_within_max_width():
    enc = SheetCNN.from_options({"max_width": 100, "stretch": 0.5})
    x = torch.rand(64, 100)
    a = enc.augment(x, gen(5))
    assert torch.equal(a, enc.augment(x, gen(5))) and a.shape[0] == 64 and a.shape[1] <= 100
    off = SheetCNN.from_options({"stretch": 0, "shift": 0})
    assert torch.equal(off.augment(x, gen(5)), x)
