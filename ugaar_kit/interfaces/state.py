"""Saving and restoring components as plain tensors and values, never as pickled objects.

Every file is written atomically (a temporary file renamed over the target) and read with
`torch.load(weights_only=True)`, so a checkpoint from an untrusted source cannot run code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from ugaar_kit.errors import InputError
from ugaar_kit.infra.atomic import atomic_open
from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.encoder import Encoder


def save_atomic(obj: Any, path: Path) -> None:
    """`torch.save` to a temporary file beside `path`, fsync, then rename over `path`."""
    with atomic_open(path, "wb") as fh:
        torch.save(obj, fh)


def load_safe(path: Path, map_location: str | torch.device = "cpu") -> Any:
    """Load a file written by `save_atomic` with `weights_only=True`; clear error when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the file's problem
        raise InputError(path, f"not a readable ugaar-kit checkpoint ({refusal(exc)})") from None


_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def refusal(exc: BaseException) -> str:
    """Why torch refused a file, in one line and without torch's advice to retry with
    `weights_only=False` (which would run whatever the file holds)."""
    text = str(exc)
    match = _REFUSED_GLOBAL.search(text)
    if match:
        return f"it holds the Python object {match.group(1)}, which is never loaded: only tensors and plain values are"
    first = text.strip().splitlines()[0] if text.strip() else ""
    if "weights_only" in first or "Weights only load failed" in first:
        first = "its contents are not tensors and plain values"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def encoder_state(encoder: Encoder) -> dict[str, Any]:
    """Everything needed to rebuild `encoder`: its name, modality, options and tensors."""
    return {
        "modality": encoder.modality,
        "name": encoder.name,
        "options": opts.to_dict(encoder.options),
        "state_dict": encoder.state_dict(),
    }


def restore_encoder(state: dict[str, Any], cls: type[Encoder]) -> Encoder:
    """Rebuild an encoder of class `cls` from `encoder_state` output."""
    encoder = cls(opts.build(cls.Options, state["options"], prefix=cls.modality))
    encoder.load_state_dict(state["state_dict"])
    return encoder
