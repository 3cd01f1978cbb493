"""Writing aligned items as a dataset folder (`manifest.jsonl` + `dataset.json`) that
`ugaar_kit.interfaces.dataset.DatasetFolder`, and so `train`, `eval` and `embed`, read.

Items without a split are assigned one by song: the songs are shuffled with a seed and cut
into train / valid / test by the given fractions, so every passage of a song lands in one split
and the same input and seed always give the same folder. Files already inside the output folder
are referenced where they are; others are hard-linked (copied when linking fails, e.g. across
file systems) into `audio/` and `sheet/` beside the manifest, since a dataset folder must hold
its files (a plugin modality's files go to a folder of its name, listed in a row's `files`;
its texts in `texts`). Lyrics are stored normalized (`ugaar_kit.data.lyrics_text.normalize_lyrics`), as the
lyrics encoders expect; the text as given is kept in `lyrics_text`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ugaar_kit.data.lyrics_text import normalize_lyrics
from ugaar_kit.errors import InputError
from ugaar_kit.infra.atomic import write_text
from ugaar_kit.interfaces.dataset import DATASET_INFO, LEGACY_INPUTS, MANIFEST, SPLITS, Item
from ugaar_kit.interfaces.modality import LYRICS, canonical_order

FORMAT = "ugaar-kit-dataset"
FORMAT_VERSION = 1


def assign_splits(songs: Sequence[str], fractions: tuple[float, float, float], seed: int) -> dict[str, str]:
    """Song -> split: the sorted songs shuffled with `seed`, then cut by `fractions`
    (train, valid, test). With three songs or more, a split with a non-zero fraction gets one."""
    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    order = sorted(set(songs))
    random.Random(seed).shuffle(order)
    n = len(order)
    counts = [round(f * n) for f in fractions[1:]]
    if n >= 3:
        counts = [max(c, 1) if f > 0 else c for c, f in zip(counts, fractions[1:])]
    n_valid, n_test = counts
    n_train = max(n - n_valid - n_test, 0)
    out: dict[str, str] = {}
    for k, song in enumerate(order):
        out[song] = "train" if k < n_train else "valid" if k < n_train + n_valid else "test"
    return out


def _file_name(item_id: str, suffix: str, taken: set[str]) -> str:
    stem = re.sub(r"[^\w.-]+", "_", item_id).strip("._") or "item"
    name, k = f"{stem}{suffix.lower()}", 1
    while name in taken:
        k += 1
        name = f"{stem}-{k}{suffix.lower()}"
    taken.add(name)
    return name


def _place(src: Path, out: Path, modality: str, item_id: str, taken: set[str]) -> str:
    """The path of `src` relative to `out`, linking or copying it in when it is outside."""
    src = src.resolve()
    if src.is_relative_to(out):
        return src.relative_to(out).as_posix()
    target_dir = out / modality
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / _file_name(item_id, src.suffix, taken)
    target.unlink(missing_ok=True)
    try:
        os.link(src, target)
    except OSError:
        shutil.copy2(src, target)
    return target.relative_to(out).as_posix()


def write_dataset_folder(
    items: Iterable[Item],
    out: Path,
    *,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    language: str = "en",
    name: str | None = None,
    source: str = "items",
) -> dict[str, Any]:
    """Write `items` (absolute paths) as a dataset folder at `out`; returns the `dataset.json`
    contents. Splits already set on items are kept; the others are assigned by song."""
    items = list(items)
    if not items:
        raise InputError(out, "no items to write")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    split_of = assign_splits([it.song for it in items if it.split is None], fractions, seed)
    fixed = {it.song: it.split for it in items if it.split is not None}
    clash = sorted(set(fixed) & set(split_of))
    for song in clash:  # some rows of a song name a split: the song follows them
        split_of[song] = fixed[song]  # type: ignore[assignment]
    taken: dict[str, set[str]] = {}
    lines = []
    counts = dict.fromkeys(SPLITS, 0)
    for it in items:
        split = it.split or split_of[it.song]
        counts[split] += 1
        row: dict[str, Any] = {"id": it.id, "song": it.song, "split": split}
        for modality, value in it.inputs.items():
            if modality == LYRICS:
                continue
            if isinstance(value, Path):
                placed = _place(value, out, modality, it.id, taken.setdefault(modality, set()))
                if LEGACY_INPUTS.get(modality) == "file":
                    row[modality] = placed
                else:
                    row.setdefault("files", {})[modality] = placed
            else:
                row.setdefault("texts", {})[modality] = str(value)
        if it.lyrics is not None:
            row[LYRICS] = normalize_lyrics(it.lyrics, language)
            row["lyrics_text"] = it.lyrics
        if it.group is not None:
            row["group"] = it.group
        for key, value in it.meta.items():
            row.setdefault(key, value)
        lines.append(json.dumps(row, ensure_ascii=False))
    manifest_text = "\n".join(lines) + "\n"
    modalities = [m for m in canonical_order(m for it in items for m in it.inputs) if all(it.has(m) for it in items)]
    info: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name or out.name,
        "id": hashlib.sha256(manifest_text.encode()).hexdigest()[:16],
        "version": 1,
        "source": source,
        "modalities": modalities,
        "songs": len({it.song for it in items}),
        "items": len(items),
        "splits": counts,
        "split_seed": seed,
        "split_fractions": list(fractions),
        "lyrics_language": language,
        "lyrics_normalized": True,
    }
    write_text(out / MANIFEST, manifest_text)
    write_text(out / DATASET_INFO, json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    return info
