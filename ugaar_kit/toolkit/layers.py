"""Network building blocks any encoder plugin may reuse: a masked VGG-style conv stack, a masked
strided conv stack with a 1-D convolution over time, masked pooling over time, a dense head.

Variable-length inputs (spectrograms, score snippets) are batched padded along their last axis
(time, or width) with a mask `(B, T)` True where real. The conv blocks keep an item's result
independent of the padding around it: padded positions are set to zero after every
conv-BN-ReLU (so the next convolution sees the same zeros its own zero padding would give an
unpadded item), pooling uses `ceil_mode` (a partial last window equals its real part, since
after ReLU a real value is at least the zero beside it), and the mask is pooled with the time
axis. In training mode BatchNorm's batch statistics still count padded positions (zeros).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ugaar_kit.interfaces.options import option

Pooling = Literal["mean", "max", "mean+max", "mean+max+sum", "bins"]
Arch = Literal["strided", "vgg"]
ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "strided": {"channels": (16, 32, 64, 64, 64), "pooling": "mean+max", "hidden": 0},
    "vgg": {"channels": (24, 48, 96, 96), "pooling": "bins", "hidden": 256},
}
"""The options an encoder body's layout sets when they are not given (None)."""


def fill_arch_defaults(options: Any) -> None:
    """Set the options left None (`channels`, `pooling`, `hidden`) of a frozen options dataclass
    with an `arch` field to that layout's defaults, so every run records the values it used."""
    for key, value in ARCH_DEFAULTS[options.arch].items():
        if getattr(options, key) is None:
            object.__setattr__(options, key, value)
    if not options.channels:
        raise ValueError("channels must list at least one block")


@dataclass(frozen=True)
class ConvBodyOptions:
    """The options of an encoder built on `conv_body` and a `DenseHead` (the audio and sheet
    `cnn`), shared so both read and document them alike; the sequence axis is time for audio
    and width for sheets. Options left None take their layout's defaults (`ARCH_DEFAULTS`)."""

    arch: Arch = option(
        "strided",
        "Body: strided (strided 3x3 convs, rows folded into channels, a 1-D conv over time or width) "
        "or vgg (blocks of two 3x3 convs and 2x2 pooling: the layout before 0.2).",
    )
    channels: tuple[int, ...] | None = option(
        None, "Channels of the 2-D conv blocks [default: 16,32,64,64,64 (strided), 24,48,96,96 (vgg)]."
    )
    conv1d: int = option(256, "Channels of the 1-D conv over time or width (arch=strided).", min=1, max=65536)
    gru: bool = option(False, "A bidirectional GRU over time or width after the 1-D conv (arch=strided).")
    pooling: Pooling | None = option(
        None,
        "Pooling over time or width: bins (ordered span means), mean, max, mean+max (both "
        "concatenated), or mean+max+sum (and the masked sum, which grows with the events in the item: "
        "a count) [default: mean+max (strided), bins (vgg)].",
    )
    bins: int = option(8, "Ordered spans of time or width with pooling=bins.", min=1, max=256)
    hidden: int | None = option(
        None,
        "Width of the head's hidden layer, 0: one linear layer [default: 0 (strided), 256 (vgg)].",
        min=0,
        max=65536,
    )
    dim: int = option(128, "Output width D.", min=1, max=65536)
    dropout: float = option(0.1, "Dropout in the conv blocks and the head.", min=0.0, max=0.9)
    weights: Path | None = option(None, "Start the conv body from this encoder state, run checkpoint or run folder.")
    freeze: bool = option(False, "Keep the conv body fixed (eval mode, no gradient); only the head trains.")

    def __post_init__(self) -> None:
        parent = getattr(super(), "__post_init__", None)
        if parent is not None:  # a front end's options beside these (the audio `cnn`'s log-mel)
            parent()
        fill_arch_defaults(self)


def conv_body(
    arch: str, height: int, channels: Sequence[int], *, conv1d: int = 256, dropout: float = 0.0, gru: bool = False
) -> nn.Module:
    """The encoder body of layout `arch`: `StridedConvStack` (with a BiGRU over time when `gru`)
    or the VGG-style `MaskedConvStack`."""
    if arch == "strided":
        return StridedConvStack(height, channels, conv1d=conv1d, dropout=dropout, gru=gru)
    if arch == "vgg":
        return MaskedConvStack(height, channels, dropout=dropout)
    raise ValueError(f"unknown arch {arch!r} (known: strided, vgg)")


def pool_mask(mask: Tensor | None, kernel: int) -> Tensor | None:
    """The mask `(B, T)` after max-pooling time by `kernel` with `ceil_mode`: `(B, ceil(T/kernel))`,
    a pooled step real when any step it covers is real."""
    if mask is None or kernel == 1:
        return mask
    pooled = F.max_pool1d(mask.float().unsqueeze(1), kernel, ceil_mode=True)
    return pooled.squeeze(1) > 0


class ConvBlock(nn.Module):
    """`n_convs` × (3×3 conv, BatchNorm, ReLU), then max-pooling by `pool` (height, time).

    `(B, C_in, H, T)` with mask `(B, T)` -> `(B, C_out, ceil(H / pool[0]), ceil(T / pool[1]))` and the
    pooled mask; positions outside the mask are zero in the output."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        n_convs: int = 2,
        pool: tuple[int, int] = (2, 2),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_convs):
            layers.append(
                nn.Sequential(
                    nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=False),
                    nn.BatchNorm2d(out_channels),
                    nn.ReLU(inplace=True),
                )
            )
        self.convs = nn.ModuleList(layers)
        self.pool = tuple(pool)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        keep = None if mask is None else mask[:, None, None, :].to(x.dtype)
        for conv in self.convs:
            x = conv(x)
            if keep is not None:
                x = x * keep
        if self.pool != (1, 1):
            x = F.max_pool2d(x, self.pool, ceil_mode=True)
            mask = pool_mask(mask, self.pool[1])
        return self.dropout(x), mask


class MaskedConvStack(nn.Module):
    """A VGG-style stack of `ConvBlock`s over one-channel 2-D input padded along its last axis.

    `(B, H, T)` with mask `(B, T)` -> `(B, channels[-1] * out_height, T')` and the mask `(B, T')`,
    `T' = ceil(T / 2**len(channels))`; height is halved (rounded up) by every block. Runs in
    channels-last memory format (1.5-1.7× faster convolutions on the CPU)."""

    def __init__(self, height: int, channels: Sequence[int], *, n_convs: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        if not channels:
            raise ValueError("a conv stack needs at least one block")
        blocks = []
        c_in = 1
        for c in channels:
            blocks.append(ConvBlock(c_in, int(c), n_convs=n_convs, pool=(2, 2), dropout=dropout))
            c_in = int(c)
        self.blocks = nn.ModuleList(blocks)
        self.height = int(height)
        self.out_height = self.height
        for _ in channels:
            self.out_height = -(-self.out_height // 2)
        self.out_features = c_in * self.out_height
        self.time_factor = 2 ** len(blocks)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        if x.shape[-2] != self.height:
            raise ValueError(f"input height {x.shape[-2]} != the stack's {self.height}")
        if mask is not None:
            x = x * mask[:, None, :].to(x.dtype)  # whatever the padding value, the convs see zeros
        h = x.unsqueeze(1).contiguous(memory_format=torch.channels_last)
        for block in self.blocks:
            h, mask = block(h, mask)
        b, c, hh, t = h.shape
        return h.reshape(b, c * hh, t), mask


class StridedConvStack(nn.Module):
    """Strided 2-D convolutions, the remaining rows folded into channels, then a 1-D convolution
    over time: the encoder body that buys the most retrieval per CPU second here.

    Each 2-D block is one 3×3 conv (stride `strides[i]` on both axes, no pooling layer),
    BatchNorm, ReLU; after the last, the `(C, H')` of every time step are folded into `C * H'`
    channels and one 1-D conv (kernel 3, `conv1d` channels), BatchNorm, ReLU runs over time.
    `(B, H, T)` with mask `(B, T)` -> `(B, conv1d, T')` and the mask `(B, T')`, `T'` = T divided by
    the strides' product, rounded up. Positions outside the mask are zero after every layer, so
    an item's output does not depend on the padding around it (a strided 3×3 conv with padding 1
    gives ceil(T / 2) steps, as the pooled mask does). Runs in channels-last memory format.

    Versus the VGG stack (two unstrided convs per block, then 2×2 pooling): the first, widest
    convolutions run at a quarter of the positions, so a step of forward and backward costs
    several times less on the CPU (docs/benchmarks.md has the throughput of both)."""

    def __init__(
        self,
        height: int,
        channels: Sequence[int],
        *,
        strides: Sequence[int] | None = None,
        conv1d: int = 256,
        dropout: float = 0.0,
        gru: bool = False,
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("a conv stack needs at least one block")
        if strides is None:
            strides = [2] * (len(channels) - 1) + [1] if len(channels) > 1 else [2]
        if len(strides) != len(channels):
            raise ValueError(f"{len(strides)} strides for {len(channels)} conv blocks")
        self.height = int(height)
        blocks = []
        c_in, h = 1, self.height
        for c, st in zip(channels, strides):
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(c_in, int(c), 3, stride=int(st), padding=1, bias=False),
                    nn.BatchNorm2d(int(c)),
                    nn.ReLU(inplace=True),
                )
            )
            c_in = int(c)
            h = -(-h // int(st))
        self.blocks = nn.ModuleList(blocks)
        self.strides = [int(st) for st in strides]
        self.out_height = h
        self.temporal = nn.Sequential(
            nn.Conv1d(c_in * h, int(conv1d), 3, padding=1, bias=False),
            nn.BatchNorm1d(int(conv1d)),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.gru = nn.GRU(int(conv1d), int(conv1d) // 2, batch_first=True, bidirectional=True) if gru else None
        self.out_features = 2 * (int(conv1d) // 2) if gru else int(conv1d)
        self.time_factor = int(np.prod(self.strides))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        if x.shape[-2] != self.height:
            raise ValueError(f"input height {x.shape[-2]} != the stack's {self.height}")
        if mask is not None:
            x = x * mask[:, None, :].to(x.dtype)
        h = x.unsqueeze(1).contiguous(memory_format=torch.channels_last)
        for block, st in zip(self.blocks, self.strides):
            h = block(h)
            mask = pool_mask(mask, st)
            if mask is not None:
                h = h * mask[:, None, None, :].to(h.dtype)
        b, c, hh, t = h.shape
        h = self.temporal(h.reshape(b, c * hh, t))
        if mask is not None:
            h = h * mask[:, None, :].to(h.dtype)
        if self.gru is not None:
            h = masked_gru(self.gru, h, mask)
        return self.dropout(h), mask


def masked_gru(gru: nn.GRU, x: Tensor, mask: Tensor | None) -> Tensor:
    """A batch-first `gru` over each item's real steps (packed, so padding never enters it):
    `(B, C, T)` with mask `(B, T)` -> `(B, H, T)`, H the GRU's output width (both directions)."""
    seq = x.transpose(1, 2)
    if mask is None:
        out, _ = gru(seq)
    else:
        lengths = mask.sum(-1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(seq, lengths, batch_first=True, enforce_sorted=False)
        out, _ = gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=seq.shape[1])
    return out.transpose(1, 2).contiguous()


COUNT_BUCKETS = 16
"""Counts (syllables, onsets) get their own learnt embedding up to this many; more share the last."""

SUM_SCALE = 8.0
"""The masked sum of `mean+max+sum` is divided by this: about the steps of a sung line after the
strided body's 16-fold downsampling, so the sum is of the order of the mean."""


class CountEmbedding(nn.Embedding):
    """A count of events (syllables in a line, onsets in a recording) as features: `log(1 + n)`
    and a learnt embedding of `min(n, buckets)`. `(B,)` counts -> `(B, 1 + dim)` float32. In this
    data one syllable is sung per note, so the count is the cue that lines and melodies share most
    plainly (the syllable-count baseline); encoders on both sides append it to their pooled
    features. A subclass of `nn.Embedding`, so its state is the one `weight` a plain embedding has."""

    def __init__(self, dim: int, buckets: int = COUNT_BUCKETS) -> None:
        super().__init__(buckets + 1, dim)
        self.buckets = int(buckets)

    def out_features(self) -> int:
        return 1 + self.embedding_dim

    def forward(self, counts: Tensor) -> Tensor:  # type: ignore[override]
        counts = counts.round().long()
        return torch.cat([torch.log1p(counts.float()).unsqueeze(1), super().forward(counts.clamp(0, self.buckets))], 1)


class MaskedPool(nn.Module):
    """Pooling over the last axis counting only real steps: `(B, C, T)`, mask `(B, T)` -> `(B, C)`
    (`mean`, `max`), `(B, 2C)` (`mean+max`, the two concatenated), `(B, 3C)` (`mean+max+sum`,
    with the masked sum divided by `SUM_SCALE`) or `(B, C * bins)` (`bins`).

    Means and maxima do not change when a passage gets longer with more of the same: they cannot
    say how many notes it holds. The sum can (a channel that fires once a note sums to the note
    count), which is what a line's syllable count matches.

    `bins` keeps coarse order: each item's real length L is cut into `bins` equal spans and each
    span averaged (steps straddling a border count by their overlap, so any L >= 1 works, even
    below `bins`), giving the first part of a passage its own features, the second its own, and so
    on. Global pooling sees a bag of local patterns; a melody and its score are the same patterns
    in the same order, which only ordered pooling can match."""

    def __init__(self, mode: Pooling = "mean+max", bins: int = 8) -> None:
        super().__init__()
        if mode not in ("mean", "max", "mean+max", "mean+max+sum", "bins"):
            raise ValueError(f"unknown pooling {mode!r}")
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        self.mode = mode
        self.bins = int(bins)

    def out_features(self, channels: int) -> int:
        if self.mode == "bins":
            return channels * self.bins
        return {"mean+max": 2, "mean+max+sum": 3}.get(self.mode, 1) * channels

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        if self.mode == "bins":
            return self._bins(x, mask)
        parts = []
        if self.mode in ("mean", "mean+max", "mean+max+sum"):
            if mask is None:
                parts.append(x.mean(dim=-1))
            else:
                m = mask.to(x.dtype).unsqueeze(1)
                parts.append((x * m).sum(-1) / m.sum(-1).clamp_min(1.0))
        if self.mode in ("max", "mean+max", "mean+max+sum"):
            if mask is None:
                parts.append(x.amax(dim=-1))
            else:
                parts.append(x.masked_fill(~mask.unsqueeze(1), float("-inf")).amax(dim=-1))
        if self.mode == "mean+max+sum":
            total = x.sum(-1) if mask is None else (x * mask.to(x.dtype).unsqueeze(1)).sum(-1)
            parts.append(total / SUM_SCALE)
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def _bins(self, x: Tensor, mask: Tensor | None) -> Tensor:
        b, c, t = x.shape
        if mask is None:
            length = torch.full((b,), float(t), device=x.device, dtype=x.dtype)
        else:
            length = mask.sum(-1).to(x.dtype).clamp_min(1.0)  # masks are real-then-padding
        span = (length / self.bins)[:, None]  # (B, 1)
        start = torch.arange(self.bins, device=x.device, dtype=x.dtype)[None, :] * span  # (B, K)
        steps = torch.arange(t, device=x.device, dtype=x.dtype)
        lo = torch.maximum(steps[None, None, :], start[:, :, None])
        hi = torch.minimum(steps[None, None, :] + 1, (start + span)[:, :, None])
        weight = (hi - lo).clamp_min(0.0) / span[:, :, None]  # (B, K, T), each row sums to 1
        return torch.einsum("bct,bkt->bck", x, weight).reshape(b, c * self.bins)


class DenseHead(nn.Sequential):
    """`(B, in_features)` -> `(B, out_features)`: Linear-ReLU-Dropout-Linear, or one Linear when
    `hidden` is 0."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 256, dropout: float = 0.0) -> None:
        if hidden:
            super().__init__(
                nn.Linear(in_features, hidden),
                nn.ReLU(inplace=True),
                nn.Dropout(dropout),
                nn.Linear(hidden, out_features),
            )
        else:
            super().__init__(nn.Linear(in_features, out_features))
