"""The `weights` option of the contrastive objective: `audio-sheet:1,audio-lyrics:0.5`."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ugaar_kit.errors import OptionError


def parse_pair_weights(entries: Sequence[str], modalities: Sequence[str]) -> dict[tuple[str, str], float]:
    """Weights of every unordered pair of `modalities`, keyed in `modalities` order.

    Each entry is `A-B:W` (either order of A and B; W >= 0); pairs not named weigh 1. Pair names
    are matched whole against the known modalities, so a modality may itself contain '-'."""
    pairs = list(itertools.combinations(modalities, 2))
    names = {}
    for a, b in pairs:
        names[f"{a}-{b}"] = (a, b)
        names[f"{b}-{a}"] = (a, b)
    weights = {p: 1.0 for p in pairs}
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        pair, sep, value = entry.strip().rpartition(":")
        if not sep or pair.strip() not in names:
            known = ", ".join(f"{a}-{b}" for a, b in pairs)
            raise OptionError(f"option 'objective.weights': {entry!r} is not PAIR:WEIGHT with PAIR one of {known}")
        key = names[pair.strip()]
        if key in seen:
            raise OptionError(f"option 'objective.weights': pair {pair.strip()} is given twice")
        seen.add(key)
        try:
            w = float(value)
        except ValueError:
            raise OptionError(
                f"option 'objective.weights': weight {value!r} of {pair.strip()} is not a number"
            ) from None
        if not w >= 0 or w == float("inf"):
            raise OptionError(
                f"option 'objective.weights': weight of {pair.strip()} must be a finite number >= 0, got {value}"
            )
        weights[key] = w
    if not any(w > 0 for w in weights.values()):
        raise OptionError("option 'objective.weights': every pair weighs 0, nothing would be trained")
    return weights
