"""The `cnn` sheet-music encoder: an engraved snippet (one system or line of music) at a fixed
height -> 2-D CNN -> masked pooling over width -> head.

The image is read as greyscale, resized (antialiased bilinear) to `height` pixels with its
aspect kept, and inverted so ink is 1 and paper 0: padding a batch with 0 is blank paper. Its
width varies (at height 64 the LMD passages are 417 px wide at the median, 803 at the 95th
percentile); a snippet wider than `max_width` is squeezed horizontally to `max_width` (never
cropped): the rows keep their meaning (a staff line stays at the same height, so pitch is read
the same way) while notes get closer together. Batches are padded along the width with a mask,
and the CNN's pooling over width respects it. The body is the audio `cnn`'s (`arch`: `strided` by
default, `vgg` as before; see that module), run over width instead of time. Training items are
augmented: width stretched by up to 1 +- `stretch` (engravings differ in spacing) and moved up
or down by up to `shift` px.

The body may start from saved weights and be frozen (`weights`, `freeze`; see
`ugaar_kit.pretrained`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from ugaar_kit.augment import log_uniform, shift_rows, stretch
from ugaar_kit.encoder import Batch, Encoder
from ugaar_kit.frontends import greyscale, ink
from ugaar_kit.layers import Arch, DenseHead, MaskedPool, Pooling, conv_body, fill_arch_defaults
from ugaar_kit.media import load_image
from ugaar_kit.options import option
from ugaar_kit.pretrained import PretrainedBody

FEATURE_VERSION = 1
FEATURE_OPTIONS = ("height", "max_width")
"""The options `featurize` depends on: they alone make the feature cache key."""


@dataclass(frozen=True)
class SheetCNNOptions:
    height: int = option(64, "Height (px) every snippet is resized to, aspect kept.", min=8, max=1024)
    max_width: int = option(1024, "Wider snippets (after resizing) are squeezed to this width, never cropped.", min=8)
    arch: Arch = option(
        "strided",
        "Body: strided (strided 3x3 convs, rows folded into channels, a 1-D conv over width) or vgg "
        "(blocks of two 3x3 convs and 2x2 pooling: the layout before 0.2).",
    )
    channels: tuple[int, ...] | None = option(
        None, "Channels of the 2-D conv blocks [default: 16,32,64,64,64 (strided), 24,48,96,96 (vgg)]."
    )
    conv1d: int = option(256, "Channels of the 1-D conv over width (arch=strided).", min=1, max=65536)
    gru: bool = option(False, "A bidirectional GRU over width after the 1-D conv (arch=strided).")
    pooling: Pooling | None = option(
        None,
        "Pooling over width: bins (ordered span means), mean, max, or mean+max (both concatenated) "
        "[default: mean+max (strided), bins (vgg)].",
    )
    bins: int = option(8, "Ordered spans of width with pooling=bins.", min=1, max=256)
    hidden: int | None = option(
        None,
        "Width of the head's hidden layer, 0: one linear layer [default: 0 (strided), 256 (vgg)].",
        min=0,
        max=65536,
    )
    dim: int = option(128, "Output width D.", min=1, max=65536)
    dropout: float = option(0.1, "Dropout in the conv blocks and the head.", min=0.0, max=0.9)
    stretch: float = option(
        0.15, "Training augmentation: stretch width by a random factor up to 1 +- this (0: off).", min=0.0, max=1.0
    )
    shift: int = option(3, "Training augmentation: move the snippet up or down by up to this many px (0: off).", min=0)
    weights: Path | None = option(None, "Start the conv body from this encoder state, run checkpoint or run folder.")
    freeze: bool = option(False, "Keep the conv body fixed (eval mode, no gradient); only the head trains.")

    LEGACY: ClassVar[dict[str, Any]] = {"arch": "vgg", "conv1d": 256, "gru": False, "stretch": 0.0, "shift": 0}
    """Options of runs from before `arch` existed (their every other option is recorded)."""

    def __post_init__(self) -> None:
        fill_arch_defaults(self)


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
        """Greyscale `(H, W)` (1 = white) -> ink `(height, W')`, `W' = min(max_width, round(W * height / H))`."""
        o: SheetCNNOptions = self.options
        img = greyscale(raw)
        h, w = img.shape
        return ink(img, int(o.height), min(int(o.max_width), max(1, round(w * o.height / h))))

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
