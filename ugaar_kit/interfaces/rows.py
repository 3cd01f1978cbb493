"""How `embed` cuts one file into rows, and how a query file or text becomes one input: the
`Rows` an encoder's `embed_rows` returns, and the two cuts the built-in encoders use.

- `file_rows`: one row, the file's `load_item` (sheet images, most plugin modalities); a 1-D
  waveform from an encoder that tells its rate (a `sample_rate` attribute or option) is cut
  into windows instead (`waveform_rows`), and a page of printed music (a greyscale image taller
  than wide, with staves) into the windows along its systems (`page_rows`; fragments
  `system=N&x=X0-X1`), as `identify` reads a page query.
- `waveform_rows`: windows of `window` seconds every `hop` seconds; the last ends at the end of
  the recording, so it may be shorter (never shorter than `window - hop`); a recording no
  longer than one window is one row; `window=0` embeds whole files. Fragments `t=START-END`
  (seconds, at most 3 decimals).
- `TextLines`, a mixin for encoders whose raw item is text (the lyrics encoders): a UTF-8 file
  is embedded line by line, each line normalized with `normalize_lyrics`; blank lines are
  skipped but counted; fragments `L12` (1-based). As a query, a file's lines are joined into
  one passage, and `--text` reaches the encoder normalized alike.

A row id is the file's source id, with `#FRAGMENT` when the file gives more than one row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ugaar_kit.data.lyrics_text import normalize_lyrics
from ugaar_kit.data.media import read_text
from ugaar_kit.errors import InputError, OptionError

if TYPE_CHECKING:
    from torch import Tensor

TEXT_MAX_BYTES = 16 << 20
"""The largest text file `TextLines` reads."""


@dataclass
class Rows:
    """One file's rows before featurizing: raw inputs with their id fragments, and (for the
    store's metadata) times in seconds, line numbers, the recording's length."""

    raws: list[Any]
    fragments: list[str]
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    seconds: float = 0.0


def sample_rate_of(encoder: Any) -> int | None:
    """The rate of an encoder's raw waveforms: its `sample_rate` attribute or option."""
    for owner in (encoder, getattr(encoder, "options", None)):
        rate = getattr(owner, "sample_rate", None)
        if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0:
            return int(rate)
    return None


def cut_windows(length: int, rate: int, window: float, hop: float) -> list[tuple[int, int]]:
    """Sample ranges `[a, b)` of the windows over `length` samples (see the module doc)."""
    if length <= 0:
        return []
    win = max(1, round(window * rate))
    step = max(1, round(hop * rate))
    if window <= 0 or length <= win:
        return [(0, length)]
    out = []
    a = 0
    while True:
        b = min(a + win, length)
        out.append((a, b))
        if b >= length:
            return out
        a += step


def seconds_label(t: float) -> str:
    """`12.5`, `175`, `0.333`: seconds with at most 3 decimals, for ids."""
    return f"{t:.3f}".rstrip("0").rstrip(".")


def waveform_rows(raw: Any, rate: int, window: float, hop: float, path: Path) -> Rows:
    """The windows of a waveform `(S,)` at `rate` (see the module doc)."""
    length = int(raw.shape[0])
    pieces = cut_windows(length, rate, window, hop)
    if not pieces:
        raise InputError(path, "no audio samples (empty recording)")
    start = [a / rate for a, _ in pieces]
    end = [b / rate for _, b in pieces]
    return Rows(
        raws=[raw] if len(pieces) == 1 else [raw[a:b] for a, b in pieces],
        fragments=[f"t={seconds_label(s)}-{seconds_label(e)}" for s, e in zip(start, end)],
        start=start,
        end=end,
        seconds=length / rate,
    )


def page_window_fragment(window: Any) -> str:
    """The id fragment of a window along a page's system (a `staves.PageWindow`):
    `system=N&x=X0-X1`, the 1-based system and the window's columns in the page's pixels."""
    return f"system={window.number}&x={window.staff.x0 + window.x0}-{window.staff.x0 + window.x1}"


def parse_page_window(row_id: str) -> tuple[int, int, int] | None:
    """(system, x0, x1) of a row id or label `FILE#system=N&x=X0-X1` (`page_window_fragment`),
    else None."""
    _, _, fragment = row_id.partition("#")
    fields = dict(f.split("=", 1) for f in fragment.split("&") if "=" in f)
    try:
        x0, x1 = (int(v) for v in fields["x"].split("-"))
        return int(fields["system"]), x0, x1
    except (KeyError, ValueError):
        return None


def page_rows(image: Any) -> Rows | None:
    """The windows along the systems of a page of printed music (`ugaar_kit.data.staves`: what
    a page query is read with), when the greyscale image `(H, W)` is one: taller than wide, with
    staves found, each under half its height (a passage snippet is a strip wider than tall);
    fragments `system=N&x=X0-X1` (1-based system, the page's pixels). Each window comes back as
    the image came: a tensor or an array, in [0, 1] or, for 8-bit pixels, in 0..255. None for
    any other image."""
    import numpy as np
    import torch

    from ugaar_kit.data.media import eight_bit as to_eight_bit
    from ugaar_kit.data.staves import find_systems, windows_of_page

    if getattr(image, "ndim", None) != 2 or image.shape[0] <= image.shape[1]:
        return None
    as_tensor = isinstance(image, torch.Tensor)
    pixels = image.numpy() if as_tensor else np.asarray(image)
    eight_bit = pixels.dtype == np.uint8
    grey = pixels.astype(np.float32) / 255.0 if eight_bit else pixels
    systems = find_systems(grey)
    if not systems or any(2 * (s.y1 - s.y0) >= grey.shape[0] for s in systems):
        return None
    cut = list(windows_of_page(grey))

    def raw(window: np.ndarray) -> Any:
        window = np.ascontiguousarray(to_eight_bit(window) if eight_bit else window)
        return torch.from_numpy(window) if as_tensor else window

    return Rows(raws=[raw(w.pixels) for w in cut], fragments=[page_window_fragment(w) for w in cut])


def file_rows(encoder: Any, path: Path, window: float, hop: float) -> Rows:
    """The default cut: the file's `load_item` as one row, its windows for a waveform, or the
    windows along its systems for a page of printed music (`page_rows`)."""
    raw = encoder.load_item(path)
    rate = sample_rate_of(encoder)
    if rate and getattr(raw, "ndim", None) == 1:
        return waveform_rows(raw, rate, window, hop, path)
    return page_rows(raw) or Rows(raws=[raw], fragments=[""])


PART_ROWS = 64
"""Rows of one file `embed` featurizes and hands on at a time (`Waveform.embed_parts`), so a long
recording costs the memory of this many windows, not of the recording."""


def window_parts(
    blocks: Iterable[Tensor], rate: int, window: float, hop: float, path: Path, part_rows: int = PART_ROWS
) -> Iterator[Rows]:
    """The windows `waveform_rows` cuts from a whole recording, cut from its consecutive blocks
    as they come (`stream_audio`), in parts of at most `part_rows` rows; only the last part's
    `seconds` holds the recording's length. `window=0` keeps the whole recording as one row."""
    import torch

    win, step = max(1, round(window * rate)), max(1, round(hop * rate))
    buf = torch.zeros(0)
    buf_start = 0  # the recording's sample at buf[0]
    a = 0  # the next window's first sample
    total = 0
    part = Rows(raws=[], fragments=[])

    def add(a: int, b: int) -> None:
        part.raws.append(buf[a - buf_start : b - buf_start].clone())
        part.start.append(a / rate)
        part.end.append(b / rate)
        part.fragments.append(f"t={seconds_label(a / rate)}-{seconds_label(b / rate)}")

    for block in blocks:
        buf = torch.cat([buf, block]) if len(buf) else block
        total += len(block)
        if window <= 0:
            continue
        while a + win < total:  # a whole window, and more of the recording follows: not the last
            add(a, a + win)
            a += step
            if len(part.raws) >= part_rows:
                yield part
                part = Rows(raws=[], fragments=[])
        cut = min(a, total)  # a hop longer than the window may start the next one past the end
        if cut > buf_start:
            buf, buf_start = buf[cut - buf_start :], cut
    if total == 0:
        raise InputError(path, "no audio samples (empty recording)")
    for x, y in cut_windows(total, rate, window, hop):
        if x >= a:
            add(x, y)
            if len(part.raws) >= part_rows:
                yield part
                part = Rows(raws=[], fragments=[])
    part.seconds = total / rate
    yield part


class Waveform:
    """Mixin for an encoder whose raw item is a mono waveform `(S,)` at its `sample_rate`, read
    with `load_audio` (put it before `Encoder`): `embed` cuts a recording into windows as it
    decodes it, a block at a time (`stream_audio`, `window_parts`), and `search` does the same
    with a query recording, so memory does not grow with the recording's length."""

    def load_item(self, path: Path) -> Any:
        from ugaar_kit.data.media import load_audio

        rate = sample_rate_of(self)
        assert rate is not None, f"{type(self).__name__} mixes in Waveform but has no sample_rate"
        return load_audio(path, rate)

    def embed_parts(self, path: Path, window: float, hop: float) -> Iterator[Rows]:
        from ugaar_kit.data.media import stream_audio

        rate = sample_rate_of(self)
        assert rate is not None, f"{type(self).__name__} mixes in Waveform but has no sample_rate"
        return window_parts(stream_audio(path, rate), rate, window, hop, path)


def read_text_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, normalized text) of every non-blank line of a UTF-8 text file."""
    lines = [(n, normalize_lyrics(line)) for n, line in enumerate(read_text(path, TEXT_MAX_BYTES).splitlines(), 1)]
    return [(n, t) for n, t in lines if t]


class TextLines:
    """Mixin for an encoder whose raw item is text (put it before `Encoder`): `embed` reads a
    file line by line, a query file as one passage, and `--text` queries reach it."""

    text_input: ClassVar[bool] = True
    extensions: ClassVar[tuple[str, ...]] = (".txt",)

    def embed_rows(self, path: Path, window: float, hop: float) -> Rows:
        lines = read_text_lines(path)
        if not lines:
            raise InputError(path, "no lyrics in the file (empty or no words)")
        return Rows(raws=[t for _, t in lines], fragments=[f"L{n}" for n, _ in lines], line=[n for n, _ in lines])

    def query_input(self, path: Path | None = None, text: str | None = None) -> Any:
        if text is not None:
            raw = normalize_lyrics(text)
            if not raw:
                raise OptionError("--text has no words")
            return raw
        assert path is not None
        raw = " ".join(t for _, t in read_text_lines(path))
        if not raw:
            raise InputError(path, "no lyrics in the file (empty or no words)")
        return raw
