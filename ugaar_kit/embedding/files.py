"""One file to rows: read, cut (the encoder's `embed_rows`) and featurize, in the caller or
in DataLoader worker processes that die with their parent."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ugaar_kit.errors import InputError
from ugaar_kit.walk import Found


@dataclass
class Prepared:
    """One file's rows before the encoder: ids, times or lines, features; or an error."""

    index: int
    ids: list[str] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    end: list[float] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    features: list[Any] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None


def _portable(feature: Any) -> Any:
    """A feature as a NumPy array when possible (cheap to send from a worker process)."""
    if isinstance(feature, torch.Tensor):
        try:
            return feature.detach().cpu().numpy()
        except (TypeError, RuntimeError):
            return feature.detach().cpu()
    return feature


def prepare(encoder: Any, modality: str, found: Found, window: float, hop: float, index: int = 0) -> Prepared:
    """Read, cut and featurize one file; a bad file gives a `Prepared` with its `error`."""
    out = Prepared(index)
    try:
        rows = encoder.embed_rows(found.path, window, hop)
        out.ids = [found.source] if len(rows.raws) == 1 else [f"{found.source}#{f}" for f in rows.fragments]
        out.start, out.end, out.line, out.seconds = rows.start, rows.end, rows.line, rows.seconds
        raws = rows.raws
        with torch.no_grad():
            out.features = [_portable(encoder.featurize(r)) for r in raws]
    except InputError as exc:
        return Prepared(index, error=exc.problem)
    except Exception as exc:  # noqa: BLE001 - whatever a file makes a reader raise, it is that file's problem
        return Prepared(index, error=f"cannot read ({type(exc).__name__}: {exc})")
    return out


class FileItems(torch.utils.data.Dataset):
    """The files of one modality as a map-style dataset of `Prepared` (for DataLoader workers)."""

    def __init__(self, files: Sequence[Found], encoder: Any, modality: str, window: float, hop: float) -> None:
        self.files = list(files)
        self.encoder = encoder
        self.modality = modality
        self.window = window
        self.hop = hop

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Prepared:
        return prepare(self.encoder, self.modality, self.files[i], self.window, self.hop, i)


def _identity(x: Any) -> Any:
    return x


def _start_worker(parent: int, _: int) -> None:
    """A loader worker: one torch thread, and it ends with its parent `parent` (killed or not)."""
    torch.set_num_threads(1)
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (`PR_SET_PDEATHSIG`), so a loader
    worker does not outlive a killed `embed` holding its files; elsewhere nothing happens."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
