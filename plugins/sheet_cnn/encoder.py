"""The `cnn` sheet-music encoder: an engraved snippet (one system or line of music) at a fixed
height -> VGG-style 2-D CNN -> masked pooling over width -> dense head.

The image is read as greyscale, resized (antialiased bilinear) to `height` pixels with its
aspect kept, and inverted so ink is 1 and paper 0: padding a batch with 0 is blank paper. Its
width varies (at height 64 the LMD passages are 417 px wide at the median, 803 at the 95th
percentile); a snippet wider than `max_width` is squeezed horizontally to `max_width` (never
cropped): the rows keep their meaning (a staff line stays at the same height, so pitch is read
the same way) while notes get closer together. Batches are padded along the width with a mask,
and the CNN's pooling over width respects it. The pooled output keeps order: `bins` spans of the
real width, each averaged (see the audio `cnn` encoder for why and what it measured).

The body may start from saved weights and be frozen (`weights`, `freeze`; see
`ugaar_kit.pretrained`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor

from ugaar_kit.encoder import Batch, Encoder
from ugaar_kit.frontends import greyscale, ink
from ugaar_kit.layers import DenseHead, MaskedConvStack, MaskedPool, Pooling
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
    channels: tuple[int, ...] = option((24, 48, 96, 96), "Channels of the conv blocks (each: 2 convs, pool 2x2).")
    pooling: Pooling = option(
        "bins", "Pooling over width: bins (ordered span means), mean, max, or mean+max (both concatenated)."
    )
    bins: int = option(8, "Ordered spans of width with pooling=bins.", min=1, max=256)
    hidden: int = option(256, "Width of the head's hidden layer (0: one linear layer).", min=0, max=65536)
    dim: int = option(128, "Output width D.", min=1, max=65536)
    dropout: float = option(0.1, "Dropout in the conv blocks and the head.", min=0.0, max=0.9)
    weights: Path | None = option(None, "Start the conv body from this encoder state, run checkpoint or run folder.")
    freeze: bool = option(False, "Keep the conv body fixed (eval mode, no gradient); only the head trains.")

    def __post_init__(self) -> None:
        if not self.channels:
            raise ValueError("channels must list at least one block")


class SheetCNN(PretrainedBody, Encoder):
    """Sheet-music snippets through a VGG-style CNN.

    Raw: greyscale `(H, W)` float32 in [0, 1], 1 = white. Features: `(height, W')` float32,
    ink = 1. Batch: `(B, height, W)` padded with 0 (blank paper), mask `(B, W)`. Output:
    `(B, dim)` float32."""

    name: ClassVar[str] = "cnn"
    modality: ClassVar[str] = "sheet"
    description: ClassVar[str] = "Greyscale snippet at a fixed height, VGG-style CNN pooled over width, dense head"
    Options: ClassVar[type] = SheetCNNOptions
    extensions: ClassVar[tuple[str, ...]] = (".png", ".jpg", ".jpeg")
    feature_options = FEATURE_OPTIONS
    feature_version = FEATURE_VERSION
    body_options: ClassVar[tuple[str, ...]] = (*FEATURE_OPTIONS, "channels")

    def __init__(self, options: SheetCNNOptions | None = None) -> None:
        super().__init__(options)
        o: SheetCNNOptions = self.options
        self.body = MaskedConvStack(o.height, o.channels, dropout=o.dropout)
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

    def forward(self, batch: Batch) -> Tensor:
        """`(B, height, W)` with mask `(B, W)` -> `(B, dim)` float32."""
        self.require_weights()
        h, mask = self.body(batch.data.float(), batch.mask)
        return self.head(self.pool(h, mask))
