"""Engraving a passage: MusicXML (see `notation`) -> verovio SVG -> resvg pixels, cropped to the
notation, greyscale, at a fixed height with the width following the passage.

One verovio toolkit and one font database are kept per process (creating them loads fonts).
resvg is reached through `svg2png_py`, which hands back the raw pixels: rasterising a passage
costs about 2 ms that way, where a PNG made by resvg and decoded again cost 20 (the same pixels:
tests/build/test_same_files.py).
"""

from __future__ import annotations

import functools
import io
from typing import Any

import numpy as np

from ugaar_kit.build.notation import passage_to_musicxml
from ugaar_kit.interfaces.score import Passage

TEXT_FONT = "DejaVu Serif"
"""Font resvg uses for verovio's lyrics text (`Times, serif`), shipped with most Linux systems."""
VEROVIO_TEXT = 'font-family="Times, serif"'
"""The font family verovio gives its text, which `rasterize` names `TEXT_FONT` outright."""


@functools.cache
def _toolkit() -> Any:
    import verovio

    verovio.enableLog(verovio.LOG_OFF)
    tk = verovio.toolkit(False)
    tk.setResourcePath(str(_resource_path()))
    return tk


def _resource_path() -> Any:
    import os

    import verovio

    return os.path.join(os.path.dirname(verovio.__file__), "data")


def _load(passage: Passage, print_lyrics: bool, clef: str | None = None) -> Any:
    """The toolkit with the passage loaded on one system, no header or footer (in the clef named
    `clef`, or the one that fits its range)."""
    tk = _toolkit()
    tk.setOptions(
        {
            "breaks": "none",
            "adjustPageHeight": True,
            "adjustPageWidth": True,
            "header": "none",
            "footer": "none",
            "pageMarginTop": 0,
            "pageMarginBottom": 0,
            "pageMarginLeft": 0,
            "pageMarginRight": 0,
            "scale": 100,
            "svgViewBox": False,
            "svgFormatRaw": True,  # no indentation: a third less to write and to parse, the same pixels
            "mnumInterval": 0,
        }
    )
    if not tk.loadData(passage_to_musicxml(passage, print_lyrics=print_lyrics, clef=clef)):
        raise ValueError("verovio could not read the generated MusicXML")
    return tk


def to_svg(passage: Passage, *, print_lyrics: bool = False, clef: str | None = None) -> str:
    """The passage engraved by verovio as one SVG system."""
    return str(_load(passage, print_lyrics, clef).renderToSVG(1))


def to_mei(passage: Passage, *, print_lyrics: bool = False, clef: str | None = None) -> str:
    """The passage as verovio reads it, exported as MEI (to check what was engraved)."""
    return str(_load(passage, print_lyrics, clef).getMEI())


@functools.cache
def _fonts() -> Any:
    """The system fonts and the render options, once per process."""
    import svg2png_py

    return svg2png_py.FontDatabase.system(), svg2png_py.RenderOptions(font_family=TEXT_FONT)


def _greyscale(svg: str, what: str) -> Any:
    """An SVG rendered by resvg on white, as a greyscale PIL image at the SVG's own size."""
    import svg2png_py
    from PIL import Image

    fonts, options = _fonts()
    svg = svg.replace(VEROVIO_TEXT, f'font-family="{TEXT_FONT}"')
    try:
        data, w, h = svg2png_py.svg_to_rgba(svg, fonts, bg_color=(255, 255, 255, 255), options=options)
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"the engraved {what} cannot be rasterised ({exc})") from None
    return Image.frombuffer("RGBA", (w, h), data, "raw", "RGBA", 0, 1).convert("L")


def rasterize(svg: str, height: int) -> np.ndarray:
    """An SVG rendered to a greyscale image of `height` rows: uint8 (height, width), ink dark
    on white, cropped to the ink with a margin of 2% of the height."""
    from PIL import Image

    image = _greyscale(svg, "passage")
    pixels = np.asarray(image)
    rows = np.flatnonzero((pixels < 200).any(axis=1))
    cols = np.flatnonzero((pixels < 200).any(axis=0))
    if rows.size == 0:
        raise ValueError("the engraved passage is blank")
    margin = max(1, round(0.02 * (rows[-1] - rows[0] + 1)))
    top, bottom = max(0, rows[0] - margin), min(pixels.shape[0], rows[-1] + 1 + margin)
    left, right = max(0, cols[0] - margin), min(pixels.shape[1], cols[-1] + 1 + margin)
    cropped = image.crop((int(left), int(top), int(right), int(bottom)))
    width = max(1, round(cropped.width * height / cropped.height))
    return np.asarray(cropped.resize((width, height), Image.Resampling.LANCZOS))


def render_page(svg: str) -> np.ndarray:
    """A whole page's SVG as a greyscale image at its own size, uint8 (height, width), uncropped
    (the pixel boxes of `pages` refer to it)."""
    return np.asarray(_greyscale(svg, "page"))


def engrave(passage: Passage, height: int, *, print_lyrics: bool = False, clef: str | None = None) -> np.ndarray:
    """The passage as a greyscale notation image: uint8 (height, width)."""
    return rasterize(to_svg(passage, print_lyrics=print_lyrics, clef=clef), height)


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 (H, W) greyscale image encoded as PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, mode="L").save(buf, format="PNG", optimize=False)
    return buf.getvalue()
