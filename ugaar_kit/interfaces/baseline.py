"""The baseline interface: a ranking that uses no model, which `eval` reports beside a run's.

A plugin registers `Baseline` subclasses with `register_baselines`. For every registered
baseline whose `needs` the run's modalities cover, `eval` calls `figures` on the evaluated
split and stores what it returns under `baselines.<name>` of its JSON, direction by direction,
with the keys of the model's figures (`R@1`, `MRR`, `MedR`, `pool`, `chance_MRR`, and `<key>_std`
over random pools). The built-in `syllable_count` and `onset_count` come from the
`baseline-counts` plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ugaar_kit.interfaces.dataset import Item
from ugaar_kit.interfaces.options import NoOptions


@dataclass(frozen=True)
class Split:
    """What a baseline is computed on: the evaluated items, their group keys (verbatim repeats
    count as one answer), the directions `eval` reports, and the pooling of the model's figures
    (the same pools for every baseline with the same `seed`)."""

    items: Sequence[Item]
    groups: Sequence[str | None]
    pairs: Sequence[tuple[str, str]]
    pool: int | None
    draws: int
    seed: int
    say: Callable[[str], None]


class Baseline:
    """Subclass, set `name`, `description` and `needs`, implement `figures`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    """Baselines take no options today; the attribute keeps every component alike."""
    needs: ClassVar[frozenset[str]] = frozenset()
    """The modalities a run must have for this baseline to be computed."""

    def figures(self, split: Split) -> dict[str, dict[str, Any]] | None:
        """Figures per direction (`"lyrics->audio"`: {"MRR": ..., ...}) for directions among
        `split.pairs`, or None when the items lack what it needs (say why with `split.say`)."""
        raise NotImplementedError
