"""What a plugin implements or hands over, and nothing that runs it: the encoder (`encoder`),
the objective (`objective`), dataset sources and items (`dataset`, `score`), baselines
(`baseline`), typed options (`options`), the rows `embed` cuts a file into (`rows`), component
state as plain tensors (`state`) and the modality names (`modality`).

The names plugin authors use most are here too, loaded on first use (so importing one light
module, such as `options`, does not import torch): `from ugaar_kit.interfaces import Encoder`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ugaar_kit.interfaces.baseline import Baseline, Split
    from ugaar_kit.interfaces.dataset import Item, ItemSource, ScoreSource, Skipped
    from ugaar_kit.interfaces.encoder import Batch, Encoder, masked_mean
    from ugaar_kit.interfaces.objective import Objective, Optimizers, Views
    from ugaar_kit.interfaces.options import NoOptions, option
    from ugaar_kit.interfaces.rows import Rows, TextLines, Waveform
    from ugaar_kit.interfaces.score import Note, Passage, Song, Syllable

_HOMES = {
    "baseline": ("Baseline", "Split"),
    "dataset": ("Item", "ItemSource", "ScoreSource", "Skipped"),
    "encoder": ("Batch", "Encoder", "masked_mean"),
    "objective": ("Objective", "Optimizers", "Views"),
    "options": ("NoOptions", "option"),
    "rows": ("Rows", "TextLines", "Waveform"),
    "score": ("Note", "Passage", "Song", "Syllable"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "Baseline",
    "Batch",
    "Encoder",
    "Item",
    "ItemSource",
    "NoOptions",
    "Note",
    "Objective",
    "Optimizers",
    "Passage",
    "Rows",
    "ScoreSource",
    "Skipped",
    "Song",
    "Split",
    "Syllable",
    "TextLines",
    "Views",
    "Waveform",
    "masked_mean",
    "option",
]


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'ugaar_kit.interfaces' has no attribute {name!r}")
    return getattr(importlib.import_module(f"ugaar_kit.interfaces.{module}"), name)
