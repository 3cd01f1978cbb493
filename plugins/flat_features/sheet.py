"""The `flat` sheet encoder: the snippet's ink (as the sheet `cnn` encoder reads it, 1 = ink) resized
to a fixed `height` x `width` (bilinear, antialiased; the aspect ratio is not kept, so every
passage fills the frame from its first note to its last) and flattened to `height * width` values.

Nothing is learnt: it gives fixed features for an objective that fits in closed form
(`--objective cca`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor

from ugaar_kit.data.media import load_image
from ugaar_kit.interfaces.options import option
from ugaar_kit.toolkit.frontends import greyscale, ink

from .flat_encoder import FlatEncoder


@dataclass(frozen=True)
class FlatSheetOptions:
    height: int = option(32, "Height (px) every snippet is resized to.", min=1, max=4096)
    width: int = option(128, "Width (px) every snippet is resized to (aspect not kept).", min=1, max=16384)


class FlatSheet(FlatEncoder):
    """Sheet-music snippets as ink pixels at a fixed size, flattened.

    Raw: greyscale `(H, W)` float32 in [0, 1], 1 = white. Features: `(height * width,)` float32,
    row major, ink = 1. Batch: `(B, height * width)`, no mask. Output: the same, float32."""

    name: ClassVar[str] = "flat"
    modality: ClassVar[str] = "sheet"
    description: ClassVar[str] = "Ink pixels resized to a fixed height x width, flattened (no parameters)"
    Options: ClassVar[type] = FlatSheetOptions
    extensions: ClassVar[tuple[str, ...]] = (".png", ".jpg", ".jpeg")

    @property
    def output_dim(self) -> int:
        return int(self.options.height) * int(self.options.width)

    def load_item(self, path: Path) -> Tensor:
        """The PNG or JPEG snippet as greyscale `(H, W)` in [0, 1] (1 = white)."""
        return load_image(path)

    def featurize(self, raw: Any) -> Tensor:
        """Greyscale `(H, W)` (1 = white) -> ink `(height, width)` -> `(height * width,)`."""
        o: FlatSheetOptions = self.options
        return ink(greyscale(raw), int(o.height), int(o.width)).reshape(-1).contiguous()
