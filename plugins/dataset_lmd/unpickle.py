"""Reading LMD lyrics-melody `.npy` files without trusting them.

The files are NumPy object arrays saved with pickle. `np.load(..., allow_pickle=True)` would run
whatever a pickle asks for, so the pickle is read by an unpickler that admits only the four
globals the format contains (found with `pickletools` over all 1,500 files of the shared sample):
NumPy's array reconstruction (`numpy.core.multiarray._reconstruct` or its NumPy 2 name under
`numpy._core`), `numpy.ndarray`, `numpy.dtype`, and `_codecs.encode` (protocol-2 bytes). Each is
admitted only with the arguments the format uses; any other global is refused before it is
called, so nothing from a refused file runs.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from ugaar_kit.errors import InputError

_RECONSTRUCT_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")


def _reconstruct(subtype: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    """`numpy.core.multiarray._reconstruct`, admitted only for a plain ndarray."""
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError("array reconstruction of a type other than numpy.ndarray")
    return np.ndarray.__new__(np.ndarray, shape, dtype_code)


def _dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    """`numpy.dtype`, admitted only for a type code string (`'O8'`, `'f8'`...)."""
    if not isinstance(spec, str):
        raise pickle.UnpicklingError(f"dtype from a {type(spec).__name__}")
    return np.dtype(spec, align=bool(align), copy=bool(copy))


def _encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """`_codecs.encode`, admitted only for latin-1 (how protocol 2 stores bytes)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("codecs.encode with an encoding other than latin1")
    return codecs.encode(text, "latin1")


_ALLOWED: dict[tuple[str, str], Any] = {
    **{(module, "_reconstruct"): _reconstruct for module in _RECONSTRUCT_MODULES},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _encode,
}


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside the allowlist."""


class LmdUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of the LMD format (see module doc)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"refused global {module}.{name}") from None


def load_array(path: Path) -> np.ndarray:
    """The object array of one LMD `.npy` file, or `InputError` for a file that is not one.

    Refuses (without running anything from it) a pickle asking for any other global."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror})") from None
    fh = io.BytesIO(data)
    try:
        version = npy_format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        raise InputError(path, f"not a NumPy .npy file ({exc})") from None
    if dtype != np.dtype(object):
        raise InputError(path, f"expected a pickled object array, found dtype {dtype}")
    try:
        array = LmdUnpickler(fh).load()
    except RefusedGlobal as exc:
        raise InputError(
            path, f"unsafe pickle: {exc} (only NumPy arrays of lists, numbers and strings are read)"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise InputError(path, f"truncated or malformed pickle ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise InputError(path, "malformed pickle (nested too deeply)") from None
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise InputError(path, f"pickle does not hold the array of shape {shape} its header announces")
    return array
