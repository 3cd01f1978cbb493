"""The `cnn` sheet-music encoder: an engraved snippet (one system or line of music) at a fixed
height -> 2-D CNN -> masked pooling over width -> head.

The image is read as greyscale, resized (antialiased bilinear) to `height` pixels and to
`width_scale` of the width that would keep its aspect, and inverted so ink is 1 and paper 0:
padding a batch with 0 is blank paper. Half the width (the default) keeps every notehead, stem
and accidental a few pixels wide and apart while it halves what the CNN computes: at the full
width the sheet side cost more than five times the audio side, and half the width buys about
twice the steps in the same time (docs/benchmarks.md). Its width varies (at height 64 and the
full width the LMD passages are 417 px wide at the median, 803 at the 95th percentile); a
snippet wider than `max_width` is squeezed horizontally to `max_width` (never cropped): the
rows keep their meaning (a staff line stays at the same height, so pitch is read the same way)
while notes get closer together. Batches are padded along the width with a mask, and the CNN's
pooling over width respects it. The body is the audio `cnn`'s (`arch`: `strided` by
default, `vgg` as before; see that module), run over width instead of time. Training items are
augmented: width stretched by up to 1 +- `stretch` (engravings differ in spacing) and moved up
or down by up to `shift` px.

The body may start from saved weights and be frozen (`weights`, `freeze`; see
`ugaar_kit.toolkit.pretrained`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from ugaar_kit.data.media import load_image
from ugaar_kit.interfaces.encoder import Batch, Encoder
from ugaar_kit.interfaces.options import option
from ugaar_kit.toolkit.augment import log_uniform, shift_rows, stretch
from ugaar_kit.toolkit.frontends import greyscale, ink
from ugaar_kit.toolkit.layers import ConvBodyOptions, DenseHead, MaskedPool, conv_body
from ugaar_kit.toolkit.pretrained import PretrainedBody

FEATURE_VERSION = 1
FEATURE_OPTIONS = ("height", "width_scale", "max_width")
"""The options `featurize` depends on: they alone make the feature cache key."""


@dataclass(frozen=True)
class SheetCNNOptions(ConvBodyOptions):
    height: int = option(64, "Height (px) every snippet is resized to, aspect kept.", min=8, max=1024)
    width_scale: float = option(
        0.5,
        "Width after resizing to `height`, as a share of the width that keeps the aspect (0.5: half as wide, "
        "half the encoder's cost; 1: the aspect kept).",
        min=0.1,
        max=1.0,
    )
    max_width: int = option(1024, "Wider snippets (after resizing) are squeezed to this width, never cropped.", min=8)
    stretch: float = option(
        0.15, "Training augmentation: stretch width by a random factor up to 1 +- this (0: off).", min=0.0, max=1.0
    )
    shift: int = option(3, "Training augmentation: move the snippet up or down by up to this many px (0: off).", min=0)

    LEGACY: ClassVar[tuple[dict[str, Any], ...]] = (
        {"arch": "vgg", "conv1d": 256, "gru": False, "stretch": 0.0, "shift": 0},
        {"width_scale": 1.0},
    )
    """Options of runs from before `arch` existed, then of runs from before `width_scale` existed
    (their every other option is recorded)."""


class SheetCNN(PretrainedBody, Encoder):
    """Sheet-music snippets through a VGG-style CNN.

    Raw: greyscale `(H, W)` float32 in [0, 1], 1 = white. Features: `(height, W')` float32,
    ink = 1. Batch: `(B, height, W)` padded with 0 (blank paper), mask `(B, W)`. Output:
    `(B, dim)` float32."""

    name: ClassVar[str] = "cnn"
    modality: ClassVar[str] = "sheet"
    description: ClassVar[str] = (
        "Greyscale snippet at a fixed height, strided CNN (or VGG-style) pooled over width, linear head"
    )
    Options: ClassVar[type] = SheetCNNOptions
    extensions: ClassVar[tuple[str, ...]] = (".png", ".jpg", ".jpeg")
    default: ClassVar[bool] = True  # the encoder of its modality when a run names none
    feature_options = FEATURE_OPTIONS
    feature_version = FEATURE_VERSION
    body_options: ClassVar[tuple[str, ...]] = (*FEATURE_OPTIONS, "arch", "channels", "conv1d", "gru")

    def __init__(self, options: SheetCNNOptions | None = None) -> None:
        super().__init__(options)
        o: SheetCNNOptions = self.options
        self.body = conv_body(o.arch, o.height, o.channels, conv1d=o.conv1d, dropout=o.dropout, gru=o.gru)
        self.pool = MaskedPool(o.pooling, o.bins)
        self.head = DenseHead(self.pool.out_features(self.body.out_features), o.dim, o.hidden, o.dropout)
        self.init_pretrained(o.weights, o.freeze)

    @property
    def output_dim(self) -> int:
        return int(self.options.dim)

    def load_item(self, path: Path) -> Tensor:
        """The PNG or JPEG snippet as greyscale `(H, W)` in [0, 1] (1 = white)."""
        return load_image(path)

    def featurize(self, raw: Any) -> Tensor:
        """Greyscale `(H, W)` (1 = white) -> ink `(height, W')`,
        `W' = min(max_width, round(W * height / H * width_scale))`."""
        o: SheetCNNOptions = self.options
        img = greyscale(raw)
        h, w = img.shape
        return ink(img, int(o.height), min(int(o.max_width), max(1, round(w * o.height / h * o.width_scale))))

    def augment(self, features: Tensor, generator: torch.Generator) -> Tensor:
        """A training copy of an ink image `(height, W)`: width stretched by a random factor (up
        to 1 +- `stretch`, log-uniform, at most `max_width`), then moved up or down by up to
        `shift` px (blank paper comes in): engravings differ in spacing and in where the staff
        sits."""
        o: SheetCNNOptions = self.options
        x = features
        if o.stretch:
            factor = log_uniform(generator, o.stretch)
            x = stretch(x, min(factor, o.max_width / max(1, x.shape[-1])))
        if o.shift:
            x = shift_rows(x, int(torch.randint(-o.shift, o.shift + 1, (), generator=generator)))
        return x

    def forward(self, batch: Batch) -> Tensor:
        """`(B, height, W)` with mask `(B, W)` -> `(B, dim)` float32."""
        self.require_weights()
        h, mask = self.body(batch.data.float(), batch.mask)
        return self.head(self.pool(h, mask))
