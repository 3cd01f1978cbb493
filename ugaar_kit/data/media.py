"""Decoding media files: audio to a mono waveform, images to a greyscale array, lyrics to text.

Every failure a file can cause (missing, empty, not audio/an image, corrupt, no samples or
pixels) raises `InputError(path, problem)`, one line naming the file, never a raw traceback.
Audio is decoded with soundfile (WAV, FLAC, OGG, MP3; `torchaudio.load` needs TorchCodec) and
resampled with torchaudio; images are read with Pillow (PNG, JPEG).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported by the readers that return tensors, when they run
    from torch import Tensor

from ugaar_kit.errors import InputError

IMAGE_FORMATS = ("PNG", "JPEG")
LYRICS_MAX_BYTES = 1 << 20
"""A lyrics file is a passage, a song or an album's words: a larger file is refused."""


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a file")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """The recording at `path` as its mono float32 samples `(T,)` (channels averaged) and its
    sample rate. Raises InputError for a missing, empty, undecodable or silent-by-length (no
    samples) file, and for NaN/inf samples."""
    import soundfile as sf

    path = Path(path)
    _check_file(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's problem
        raise InputError(path, f"not a readable audio file ({_first_line(exc)})") from None
    if data.shape[0] == 0:
        raise InputError(path, "no audio samples (zero-length recording)")
    if not np.isfinite(data).all():
        raise InputError(path, "audio has NaN or infinite samples")
    return np.ascontiguousarray(data.mean(axis=1, dtype=np.float32)), int(rate)


def load_audio(path: Path, sample_rate: int) -> Tensor:
    """The recording at `path` as a mono float32 waveform `(T,)` at `sample_rate` Hz
    (`read_audio`, then resampled with `torchaudio.functional.resample`, windowed sinc)."""
    import torch

    samples, rate = read_audio(path)
    wave = torch.from_numpy(samples)
    if int(rate) != int(sample_rate):
        import torchaudio.functional as AF

        wave = AF.resample(wave, int(rate), int(sample_rate))
    return wave.contiguous()


BLOCK_SECONDS = 30.0
"""Seconds of a recording `stream_audio` decodes and resamples at a time."""


def write_excerpt(path: Path, start: float, seconds: float, out: Path) -> Path:
    """`seconds` of the recording at `path` from `start`, written to `out` as a 16-bit WAV."""
    import soundfile as sf

    rate = sf.info(str(path)).samplerate
    a = int(round(start * rate))
    samples, _ = sf.read(str(path), start=a, stop=a + int(round(seconds * rate)), dtype="float32")
    sf.write(str(out), samples, rate, subtype="PCM_16")
    return out


def _resample_margin(orig: int, new: int) -> int:
    """Input samples either side of a block that `torchaudio.functional.resample` (windowed sinc,
    6 zero crossings, roll-off 0.99) reads for the block's outputs: a whole number of its input
    stride `orig` (`orig`, `new` reduced by their gcd), at least its kernel's half width."""
    width = math.ceil(6 * orig / (min(orig, new) * 0.99)) + 1
    return orig * (width // orig + 2)


def stream_audio(path: Path, sample_rate: int, block_seconds: float = BLOCK_SECONDS) -> Iterator[Tensor]:
    """The recording at `path` as consecutive mono float32 blocks at `sample_rate`, decoded and
    resampled a block at a time: their concatenation equals `load_audio(path, sample_rate)` (to
    float rounding), while memory holds about one block, whatever the recording's length.

    Each block is resampled with enough of its neighbours' samples that the filter sees what
    it sees in the whole recording. Raises InputError like `read_audio`, for a block with NaN or
    infinite samples when it is reached."""
    import soundfile as sf
    import torch

    path = Path(path)
    _check_file(path)
    try:
        fh = sf.SoundFile(str(path))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's problem
        raise InputError(path, f"not a readable audio file ({_first_line(exc)})") from None
    with fh:
        rate = int(fh.samplerate)
        g = math.gcd(rate, int(sample_rate))
        orig, new = rate // g, int(sample_rate) // g
        margin = 0 if orig == new else _resample_margin(orig, new)
        step = orig * max(1, round(block_seconds * rate / orig))
        buf = np.zeros(0, dtype=np.float32)
        start = 0  # the recording's sample at buf[0], a multiple of `orig`
        done = 0  # resampling steps (of `orig` input samples) already given out
        length = 0
        while True:
            try:
                chunk = fh.read(step, dtype="float32", always_2d=True)
            except Exception as exc:  # noqa: BLE001
                raise InputError(path, f"not a readable audio file ({_first_line(exc)})") from None
            if chunk.shape[0] and not np.isfinite(chunk).all():
                raise InputError(path, "audio has NaN or infinite samples")
            mono = chunk.mean(axis=1, dtype=np.float32)
            length += len(mono)
            buf = np.concatenate([buf, mono])
            last = len(mono) < step
            if last and length == 0:
                raise InputError(path, "no audio samples (zero-length recording)")
            if orig == new:
                if len(mono):
                    yield torch.from_numpy(np.ascontiguousarray(mono))
                buf = buf[:0]
            else:
                # Steps [done, upto) have all the input their outputs read (or the recording ended).
                upto = -(-new * length // orig) // new + 1 if last else (length - margin) // orig
                if upto > done:
                    yield _resample_steps(buf, start, done, upto, orig, new, margin, length if last else None)
                    done = upto
                keep = max(0, done * orig - margin)  # a multiple of `orig`
                buf, start = buf[keep - start :], keep
            if last:
                return


def _resample_steps(
    buf: np.ndarray, start: int, first: int, upto: int, orig: int, new: int, margin: int, length: int | None
) -> Tensor:
    """The resampled samples of steps [first, upto) (`new` per step) from `buf` (the recording
    from sample `start`), cut at the recording's resampled length when it is known."""
    import torch
    import torchaudio.functional as AF

    left = first * orig - start  # input samples before the first step: a multiple of `orig`
    out = AF.resample(torch.from_numpy(buf), orig, new)
    lo = left // orig * new
    hi = lo + (upto - first) * new
    if length is not None:
        hi = min(hi, -(-new * length // orig) - (start // orig) * new)
    return out[lo:hi].contiguous()


def _is_pdf(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(5) == b"%PDF-"


def eight_bit(grey: np.ndarray) -> np.ndarray:
    """Greyscale in [0, 1] (`load_image`'s, a page window's pixels) as uint8 0..255, rounded."""
    return np.clip(np.rint(np.asarray(grey) * 255.0), 0, 255).astype(np.uint8)


def load_image(path: Path) -> Tensor:
    """The PNG or JPEG image at `path` as greyscale `(H, W)` float32 in [0, 1] (1 = white).

    Transparent pixels are composited onto white first: rasterised SVG (verovio + resvg) is
    black ink on a transparent background. A PDF is refused with what to do instead (whole
    pages are not supported yet); so is any other format, a corrupt or truncated file, an
    image with no pixels, or one over Pillow's decompression-bomb limit."""
    import torch
    from PIL import Image

    path = Path(path)
    _check_file(path)
    if _is_pdf(path):
        raise InputError(path, "multi-page PDF / whole pages are not supported yet: crop passages to PNG")
    try:
        with Image.open(path) as img:
            if img.format not in IMAGE_FORMATS:
                raise InputError(path, f"{img.format} images are not supported (expected PNG or JPEG)")
            img.load()
            if img.width == 0 or img.height == 0:
                raise InputError(path, "image has no pixels")
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                grey = Image.alpha_composite(white, rgba).convert("L")
            elif img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                deep = np.asarray(img, dtype=np.float64)  # 16-bit greyscale PNG
                scale = 65535.0 if float(deep.max()) > 255 else 255.0
                return torch.from_numpy((deep / scale).clip(0, 1).astype(np.float32))
            else:
                grey = img.convert("L")
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(path, "image is too large (Pillow's decompression-bomb limit)") from None
    except Exception as exc:  # noqa: BLE001 - any decoding failure is the file's problem
        raise InputError(path, f"not a readable PNG or JPEG image ({_first_line(exc)})") from None
    arr = np.asarray(grey, dtype=np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(arr))


def read_text(path: Path, max_bytes: int = LYRICS_MAX_BYTES) -> str:
    """A UTF-8 text file (a byte-order mark allowed; an empty file gives ""); InputError when
    missing, too large, binary or not UTF-8."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if not path.is_file():
        raise InputError(path, "not a file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(path, f"{size} bytes is too large for a lyrics file (at most {max_bytes})")
    data = path.read_bytes()
    if b"\0" in data:
        raise InputError(path, "binary file, expected UTF-8 lyrics text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def load_lyrics(path: Path) -> str:
    """One lyrics passage from a `.txt` file, normalized like the datasets' lyrics
    (`ugaar_kit.data.lyrics_text.normalize_lyrics`); InputError when it holds no words."""
    from ugaar_kit.data.lyrics_text import normalize_lyrics

    lyrics = normalize_lyrics(read_text(path))
    if not lyrics:
        raise InputError(path, "no lyrics in the file (empty or no words)")
    return lyrics
