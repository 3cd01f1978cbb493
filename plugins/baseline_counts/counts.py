"""Count-match baselines of the lyrics directions: a melody of n notes carries about n sung
syllables, so ranking the other side by how close its count is to the query's is what a model
that learnt nothing but the length would reach (docs/evaluation.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ugaar_kit.data.lyrics_text import syllable_count
from ugaar_kit.interfaces.baseline import Baseline, Split
from ugaar_kit.interfaces.dataset import Item
from ugaar_kit.interfaces.modality import direction
from ugaar_kit.retrieval import metrics
from ugaar_kit.retrieval.evaluation import report_row
from ugaar_kit.retrieval.metrics import DEFAULT_KS, Ties


def note_count(item: Item) -> int | None:
    """Notes of the item's melody: `len(meta["notes"])` (or `meta["n_notes"]`), None if absent."""
    notes = item.meta.get("notes")
    if isinstance(notes, list):
        return len(notes)
    n = item.meta.get("n_notes")
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def lyric_syllables(item: Item) -> int | None:
    """Syllables of the item's lyrics: from the manifest (`syllables` as a count or a list,
    or `n_syllables`), else counted in the normalized lyrics text; None without lyrics."""
    for key in ("syllables", "n_syllables"):
        value = item.meta.get(key)
        if isinstance(value, list):
            return len(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return syllable_count(item.lyrics) if item.lyrics is not None else None


def syllable_count_baseline(
    syllables: Sequence[int],
    notes: Sequence[int],
    groups: Sequence[str | None] | None = None,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    ties: Ties = "worst",
    block_elements: int = metrics.DEFAULT_BLOCK,
) -> dict[str, dict[str, float]]:
    """Rank candidates by `|note count - syllable count|` (`metrics.count_match`).

    `syllables[i]`: syllables in item i's lyrics; `notes[i]`: notes in its melody (the same
    for its audio and its sheet). Gives `lyrics->audio`, `lyrics->sheet` (equal), and
    `audio->lyrics`, `sheet->lyrics` (equal), with the keys of `retrieval_metrics`."""
    fwd, back = metrics.count_match(syllables, notes, groups, ks=ks, ties=ties, block_elements=block_elements)
    return {"lyrics->audio": fwd, "lyrics->sheet": dict(fwd), "audio->lyrics": back, "sheet->lyrics": dict(back)}


def figures(
    syllables: Sequence[int], counts: Sequence[int], split: Split, pairs: Sequence[tuple[str, str]]
) -> dict[str, dict[str, Any]]:
    """The count match of `syllables` against `counts` for the directions among `pairs`
    (expected ranks under random tie-breaking), on the same pools as the model's figures."""
    groups = list(split.groups)
    if split.pool is None:
        rows = syllable_count_baseline(syllables, counts, groups, ties="mean")
    else:
        rows = metrics.pooled(
            syllable_count_baseline,
            {"syllables": list(syllables), "notes": list(counts), "groups": groups},
            pool=split.pool,
            draws=split.draws,
            seed=split.seed,
            ties="mean",
        )
    wanted = [direction(q, c) for q, c in pairs]
    return {d: report_row(rows[d], split.pool is not None) for d in wanted if d in rows}


class SyllableCount(Baseline):
    name = "syllable_count"
    description = "Lyrics against audio and sheet by |notes - syllables| (the manifest's note counts)."
    needs = frozenset({"lyrics"})

    def figures(self, split: Split) -> dict[str, dict[str, Any]] | None:
        notes = [note_count(it) for it in split.items]
        missing = sum(n is None for n in notes)
        if missing:
            split.say(
                f"{missing} of {len(split.items)} items have no note count ('notes' in the manifest): "
                "syllable-count baseline left out"
            )
            return None
        syllables = [int(lyric_syllables(it) or 0) for it in split.items]
        return figures(syllables, [int(n or 0) for n in notes], split, split.pairs)


class OnsetCount(Baseline):
    name = "onset_count"
    description = "Lyrics against audio by |onsets - syllables| (onsets counted in the recordings)."
    needs = frozenset({"lyrics", "audio"})

    def figures(self, split: Split) -> dict[str, dict[str, Any]] | None:
        from ugaar_kit.toolkit.onsets import count_file_onsets

        onsets = count_file_onsets([it.audio for it in split.items if it.audio is not None])
        syllables = [int(lyric_syllables(it) or 0) for it in split.items]
        return figures(syllables, onsets, split, [p for p in split.pairs if "audio" in p])
