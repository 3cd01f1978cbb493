"""The shared building blocks: masked conv stack and pooling ignore padding exactly."""

from __future__ import annotations

import pytest
import torch

from ugaar_kit.interfaces.encoder import pad_last
from ugaar_kit.toolkit.layers import SUM_SCALE, DenseHead, MaskedConvStack, MaskedPool, StridedConvStack, pool_mask


def test_pool_mask_rounds_up():
    mask = torch.tensor([[1, 1, 1, 0, 0, 0, 0, 0], [1] * 8], dtype=torch.bool)
    assert pool_mask(mask, 2).tolist() == [[True, True, False, False], [True] * 4]
    assert pool_mask(mask[:, :7], 4).tolist() == [[True, False], [True, True]]


@pytest.mark.parametrize("lengths", [(5, 37, 64), (1, 2, 3), (16, 17, 15)])
def test_conv_stack_output_ignores_padding(lengths: tuple[int, ...]):
    torch.manual_seed(0)
    stack = MaskedConvStack(20, (4, 8, 8)).eval()
    for m in stack.modules():  # BatchNorm with non-trivial statistics, so BN(0) != 0
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.bias.data.uniform_(-1, 1)
    items = [torch.randn(20, n) for n in lengths]
    with torch.no_grad():
        batch = pad_last(items, pad_value=7.0)  # a padding value the mask must make irrelevant
        out, mask = stack(batch.data, batch.mask)
        assert out.shape == (3, 8 * 3, -(-max(lengths) // 8))
        pools = [MaskedPool("mean+max"), MaskedPool("bins", 4)]
        pooled = [pool(out, mask) for pool in pools]
        for i, item in enumerate(items):
            alone, alone_mask = stack(item[None], torch.ones(1, item.shape[-1], dtype=torch.bool))
            n = alone.shape[-1]
            assert mask[i].sum() == n
            assert torch.allclose(out[i, :, :n], alone[0], atol=1e-5)
            for pool, batched in zip(pools, pooled, strict=True):
                assert torch.allclose(batched[i], pool(alone, alone_mask)[0], atol=1e-5)


def test_masked_pool_values():
    x = torch.tensor([[[1.0, 3.0, -50.0]]])
    mask = torch.tensor([[True, True, False]])
    assert MaskedPool("mean")(x, mask).tolist() == [[2.0]]
    assert MaskedPool("max")(x, mask).tolist() == [[3.0]]
    assert MaskedPool("mean+max")(x, mask).tolist() == [[2.0, 3.0]]
    assert MaskedPool("mean+max").out_features(5) == 10
    # the sum grows with the item, so it can carry a count (divided by SUM_SCALE)
    assert MaskedPool("mean+max+sum")(x, mask).tolist() == [[2.0, 3.0, 4.0 / SUM_SCALE]]
    assert MaskedPool("mean+max+sum").out_features(5) == 15
    twice = torch.tensor([[[1.0, 3.0, 1.0, 3.0]]])
    short, long = MaskedPool("mean+max+sum")(x, mask), MaskedPool("mean+max+sum")(twice)
    assert short[0, :2].tolist() == long[0, :2].tolist() and long[0, 2] == 2 * short[0, 2]
    with pytest.raises(ValueError):
        MaskedPool("median")  # type: ignore[arg-type]


def test_bins_pool_keeps_order():
    x = torch.arange(8.0).reshape(1, 1, 8)
    full = torch.ones(1, 8, dtype=torch.bool)
    assert MaskedPool("bins", 4)(x, full).tolist() == [[0.5, 2.5, 4.5, 6.5]]  # span means, in order
    assert MaskedPool("bins", 4)(x.flip(-1), full).tolist() == [[6.5, 4.5, 2.5, 0.5]]
    assert MaskedPool("bins", 4).out_features(5) == 20
    # 3 real steps in 2 bins: the middle step is split between them by its overlap
    three = torch.tensor([[[3.0, 6.0, 9.0, 100.0]]])
    mask = torch.tensor([[True, True, True, False]])
    assert torch.allclose(MaskedPool("bins", 2)(three, mask), torch.tensor([[4.0, 8.0]]))
    # fewer real steps than bins: each bin is the step it falls in, every bin is defined
    one = MaskedPool("bins", 3)(torch.tensor([[[5.0, -1.0]]]), torch.tensor([[True, False]]))
    assert torch.allclose(one, torch.tensor([[5.0, 5.0, 5.0]]))
    with pytest.raises(ValueError):
        MaskedPool("bins", 0)


def test_dense_head_shapes():
    assert DenseHead(10, 4, hidden=8)(torch.randn(3, 10)).shape == (3, 4)
    assert len(DenseHead(10, 4, hidden=0)) == 1


@pytest.mark.parametrize("gru", [False, True], ids=["conv", "gru"])
@pytest.mark.parametrize("lengths", [(5, 37, 64), (1, 2, 3), (16, 17, 15)])
def test_strided_stack_output_ignores_padding(lengths: tuple[int, ...], gru: bool):
    torch.manual_seed(0)
    stack = StridedConvStack(20, (4, 8, 8, 8), conv1d=12, gru=gru).eval()
    for m in stack.modules():  # BatchNorm with non-trivial statistics, so BN(0) != 0
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.bias.data.uniform_(-1, 1)
    items = [torch.randn(20, n) for n in lengths]
    with torch.no_grad():
        batch = pad_last(items, pad_value=7.0)
        out, mask = stack(batch.data, batch.mask)
        # three stride-2 blocks and one of stride 1: time / 8 rounded up, 12 channels
        assert out.shape == (3, 12, -(-max(lengths) // 8)) and stack.out_height == 3
        pool = MaskedPool("mean+max")
        pooled = pool(out, mask)
        for i, item in enumerate(items):
            alone, alone_mask = stack(item[None], torch.ones(1, item.shape[-1], dtype=torch.bool))
            n = alone.shape[-1]
            assert mask[i].sum() == n == -(-item.shape[-1] // 8)
            assert torch.allclose(out[i, :, :n], alone[0], atol=1e-5)
            assert torch.allclose(pooled[i], pool(alone, alone_mask)[0], atol=1e-5)


def test_arch_defaults_fill_what_is_not_given_and_record_it():
    from ugaar_kit_plugins.audio_cnn.encoder import AudioCNN
    from ugaar_kit_plugins.sheet_cnn.encoder import SheetCNN

    for cls in (AudioCNN, SheetCNN):
        strided = cls.from_options({})
        assert isinstance(strided.body, StridedConvStack)
        assert (strided.options.channels, strided.options.pooling, strided.options.hidden) == (
            (16, 32, 64, 64, 64),
            "mean+max",
            0,
        )
        vgg = cls.from_options({"arch": "vgg"})
        assert isinstance(vgg.body, MaskedConvStack)
        assert (vgg.options.channels, vgg.options.pooling, vgg.options.hidden) == ((24, 48, 96, 96), "bins", 256)
        mine = cls.from_options({"arch": "vgg", "channels": "8,16", "hidden": 0})
        assert mine.options.channels == (8, 16) and mine.options.hidden == 0


def test_options_saved_before_arch_existed_rebuild_the_vgg_body():
    from ugaar_kit_plugins.audio_cnn.encoder import AudioCNN, AudioCNNOptions
    from ugaar_kit_plugins.sheet_cnn.encoder import SheetCNNOptions

    from ugaar_kit.interfaces import options as opts

    for cls in (AudioCNNOptions, SheetCNNOptions):
        legacy = cls.LEGACY if isinstance(cls.LEGACY, dict) else {k: v for g in cls.LEGACY for k, v in g.items()}
        saved = opts.to_dict(cls(arch="vgg"))
        for key in legacy:
            saved.pop(key)
        old = opts.build(cls, saved)  # a 0.1.0 run's recorded options: every one but the new
        assert old.arch == "vgg" and old.channels == (24, 48, 96, 96)
        assert all(getattr(old, k) == v for k, v in legacy.items())  # no augmentation either
        assert opts.build(cls, {"channels": "8,16"}).arch == "strided"  # a user's partial options
    assert isinstance(AudioCNN(opts.build(AudioCNNOptions, {})).body, StridedConvStack)
