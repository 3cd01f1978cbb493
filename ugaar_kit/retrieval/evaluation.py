"""Evaluate a run on a dataset split: embed it, rank every direction, set baselines beside it.

    result = evaluate("runs/dcca-1", "data/lmd", split="test", pool=1000)
    result["directions"]["audio->sheet"]["MRR"]

For every ordered pair of the run's modalities (`audio->sheet`, `sheet->audio`, ...) every item
of the split queries the others' embeddings; R@1, R@5, R@10, MRR and median rank are those of
`ugaar_kit.retrieval.metrics` (ties count against the model; verbatim repeats, items of one song sharing
a `group`, are one candidate and one answer). Beside them stand the baselines that plugins
register (`ugaar_kit.interfaces.baseline`), each on the same items and pools: the built-in `baseline-counts`
gives every lyrics direction the ranking by |note count - syllable count| (`syllable_count`) and
the audio-lyrics directions the ranking by |onsets counted in the audio - syllable count|
(`onset_count`): what a model that learnt only to count could reach.

Beside chance stands the ceiling (`ceiling_MRR`): the best MRR any model could reach on those
items, where candidates of identical content (the same notes for audio and sheet, the same
normalised words for lyrics) must tie and ties count against the model.

MRR depends strongly on the pool size, so `pool=N` averages over `draws` random pools of N
candidates (whole groups drawn) and reports each figure's standard deviation as `<key>_std`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ugaar_kit.data.lyrics_text import lyric_words
from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.inference.run import Run
from ugaar_kit.interfaces.baseline import Baseline, Split
from ugaar_kit.interfaces.dataset import SPLITS, DatasetFolder, Item
from ugaar_kit.interfaces.modality import BUILTIN_INPUTS, MODALITIES, direction
from ugaar_kit.registry.components import Registry
from ugaar_kit.registry.discovery import get_registry
from ugaar_kit.retrieval import metrics

KEYS = ("R@1", "R@5", "R@10", "MRR", "MedR")
"""The figures reported per direction (each with `_std` when pooled), then `pool`, `chance_MRR`."""
SIMILARITY_ITEMS = 100
"""Items shown in the similarity-matrix plot."""
CHUNK_BATCHES = 8
"""Items handed to `Run.embed` at once, in batches: bounds the features held in memory."""

Say = Callable[[str], None]


# -- the split ----------------------------------------------------------------------------
def open_folder(data_dir: str | Path) -> DatasetFolder:
    """The dataset folder at `data_dir`; `InputError` when there is none."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(root, "no such dataset folder")
    return DatasetFolder(root)


def load_split(folder: DatasetFolder, split: str, modalities: Sequence[str], say: Say | None = None) -> list[Item]:
    """The items of `split` that have every one of `modalities`, in manifest order.

    Raises `InputError` for an empty split or a modality no item has; items lacking one of the
    modalities are left out (and said so)."""
    items = folder.split(split)
    if not items:
        counts = {s: len(folder.split(s)) for s in SPLITS}
        present = ", ".join(f"{s} {n}" for s, n in counts.items() if n) or "none"
        raise InputError(folder.root, f"the {split} split is empty (items per split: {present})")
    for m in modalities:
        if not any(it.has(m) for it in items):
            raise InputError(
                folder.root,
                f"the run needs {m} but no item of the {split} split has it (the run embeds {', '.join(modalities)})",
            )
    usable = [it for it in items if all(it.has(m) for m in modalities)]
    if len(usable) < len(items) and say is not None:
        say(f"{split}: {len(items) - len(usable)} of {len(items)} items lack one of {', '.join(modalities)}; left out")
    return usable


def group_keys(items: Sequence[Item]) -> list[str | None]:
    """One key per item: `song/group` for verbatim repeats (groups are per song), else None."""
    return [f"{it.song}/{it.group}" if it.group is not None else None for it in items]


MELODY_DECIMALS = 3
"""Onsets and durations are compared rounded to milliseconds."""


def melody_key(item: Item) -> tuple[tuple[float, ...], ...] | None:
    """The item's melody as content: `(pitch, onset from the first note, duration)` per note of
    the manifest's `notes`, rounded to `MELODY_DECIMALS`; None when the manifest has none."""
    notes = item.meta.get("notes")
    if not isinstance(notes, list) or not notes:
        return None
    try:
        first = float(min(n[1] for n in notes))
        return tuple(
            (float(n[0]), round(float(n[1]) - first, MELODY_DECIMALS), round(float(n[2]), MELODY_DECIMALS))
            for n in notes
        )
    except (TypeError, ValueError, IndexError):
        return None


def content_key(item: Item, modality: str) -> Any:
    """What makes two items' `modality` identical for the ceiling: for the built-in file
    modalities (audio, sheet: renderings of the row's notes) the melody, for the built-in text
    (lyrics) the normalised words, None (unlike any other) for a plugin's modality."""
    kind = BUILTIN_INPUTS.get(modality)
    if kind == "file":
        return melody_key(item)
    value = item.get(modality)
    if kind == "text" and value is not None:
        return " ".join(lyric_words(str(value), str(item.meta.get("language") or "en")))
    return None


# -- embedding ----------------------------------------------------------------------------
def item_inputs(items: Sequence[Item], modality: str) -> list[Any]:
    """What `Run.embed` takes for each item: its file path, or the manifest's lyrics text."""
    return [it.get(modality) for it in items]


def embed_items(
    run: Run,
    items: Sequence[Item],
    batch_size: int = 64,
    advance: Callable[[int], None] | None = None,
) -> dict[str, Tensor]:
    """Shared-space embeddings `{modality: (N, shared_dim)}` of the items, through `Run.embed`
    in chunks of `CHUNK_BATCHES * batch_size` items; `advance(k)` after each chunk of k."""
    chunk = CHUNK_BATCHES * batch_size
    out: dict[str, Tensor] = {}
    for m in ordered_modalities(run.modalities):
        inputs = item_inputs(items, m)
        parts = []
        for start in range(0, len(inputs), chunk):
            part = inputs[start : start + chunk]
            parts.append(run.embed(m, part, batch_size=batch_size))
            if advance is not None:
                advance(len(part))
        out[m] = torch.cat(parts)
    return out


def ordered_modalities(modalities: Sequence[str]) -> list[str]:
    """The built-in modalities in their usual order (audio, sheet, lyrics), then any others."""
    return [m for m in MODALITIES if m in modalities] + [m for m in modalities if m not in MODALITIES]


def directions_of(modalities: Sequence[str]) -> list[tuple[str, str]]:
    """Every ordered pair, each pair's two directions together: audio->sheet, sheet->audio, ..."""
    pairs: list[tuple[str, str]] = []
    for a, b in itertools.combinations(ordered_modalities(modalities), 2):
        pairs += [(a, b), (b, a)]
    return pairs


# -- figures ------------------------------------------------------------------------------
def report_row(row: dict[str, float], pooled: bool) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for key in KEYS:
        out[key] = row[key]
        if pooled:
            out[f"{key}_std"] = row[f"{key}_std"]
    out["pool"] = int(round(row["pool"]))
    out["chance_MRR"] = row["chance_MRR"]
    return out


def whole_or_pooled(
    fn: Callable[..., dict[str, dict[str, float]]],
    items: dict[str, Any],
    pool: int | None,
    draws: int,
    seed: int,
    **fixed: Any,
) -> dict[str, dict[str, float]]:
    """`fn` on the whole split (pool None) or `metrics.pooled` over random pools of `pool`."""
    if pool is None:
        return fn(**items, **fixed)
    return metrics.pooled(fn, items, pool=pool, draws=draws, seed=seed, **fixed)


def model_figures(
    embeddings: dict[str, Tensor],
    groups: Sequence[str | None],
    pairs: Sequence[tuple[str, str]],
    pool: int | None,
    draws: int,
    seed: int,
) -> dict[str, dict[str, float | int]]:
    """The run's figures per direction, on the whole split or averaged over random pools."""
    rows = whole_or_pooled(
        metrics.retrieval_metrics,
        {"embeddings": embeddings, "groups": list(groups)},
        pool,
        draws,
        seed,
        directions=pairs,
    )
    return {d: report_row(rows[d], pool is not None) for d in (direction(q, c) for q, c in pairs)}


def ceiling_figures(
    keys: dict[str, list[Any]],
    groups: Sequence[str | None],
    pairs: Sequence[tuple[str, str]],
    pool: int | None,
    draws: int,
    seed: int,
) -> dict[str, float]:
    """The ceiling MRR per direction (`metrics.ceiling_metrics`), on the same pools as
    `model_figures` with the same `seed`."""
    rows = whole_or_pooled(
        metrics.ceiling_metrics, {"keys": keys, "groups": list(groups)}, pool, draws, seed, directions=pairs
    )
    return {direction(q, c): float(rows[direction(q, c)]["MRR"]) for q, c in pairs}


def query_ranks(
    embeddings: dict[str, Tensor], groups: Sequence[str | None], pairs: Sequence[tuple[str, str]]
) -> dict[str, np.ndarray]:
    """Each query's rank (ties against the model) `(N,)` per direction, on the whole split,
    computed as `metrics.retrieval_metrics` computes them (same precision, same tie rule)."""
    ids, n_groups = metrics.group_ids(list(groups), len(groups))
    normed = {m: torch.nn.functional.normalize(e, dim=1) for m, e in embeddings.items()}
    out = {}
    for q, c in pairs:
        worse, _ = metrics.rank_counts(normed[q], normed[c], metrics.cosine, ids, n_groups, split_ties=False)
        out[direction(q, c)] = worse.numpy() + 1
    return out


# -- plots ---------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_ranks(ranks: np.ndarray, pool: int, title: str, path: Path) -> None:
    """Histogram of query ranks `(N,)` on log-spaced bins from 1 to `pool`, median and chance marked."""
    fig = _figure(6, 3.6)
    ax = fig.subplots()
    edges = np.unique(np.round(np.geomspace(1, pool + 1, num=min(40, pool) + 1)))
    ax.hist(ranks, bins=edges, color="tab:blue")
    ax.set_xscale("log")
    ax.axvline(float(np.median(ranks)), color="black", label=f"median {np.median(ranks):g}")
    ax.axvline((pool + 1) / 2, color="gray", linestyle=":", label=f"chance median {(pool + 1) / 2:g}")
    ax.set_xlabel(f"rank of the right answer (pool {pool})")
    ax.set_ylabel("queries")
    ax.set_title(title)
    ax.legend(fontsize="small")
    fig.savefig(path, dpi=100)


def plot_similarity(queries: Tensor, candidates: Tensor, names: tuple[str, str], path: Path) -> None:
    """Cosine similarities `(n, n)` of query rows `(n, D)` against candidate rows `(n, D)`; the
    diagonal holds the matching pairs."""
    a = torch.nn.functional.normalize(queries.double(), dim=1)
    b = torch.nn.functional.normalize(candidates.double(), dim=1)
    sim = (a @ b.T).numpy()
    fig = _figure(6, 5)
    ax = fig.subplots()
    image = ax.imshow(sim, cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="cosine similarity")
    ax.set_xlabel(f"{names[1]} (item)")
    ax.set_ylabel(f"{names[0]} (item)")
    ax.set_title(f"{names[0]} vs {names[1]}, first {len(sim)} items")
    fig.savefig(path, dpi=100)


def write_plots(
    folder: Path,
    embeddings: dict[str, Tensor],
    groups: Sequence[str | None],
    pairs: Sequence[tuple[str, str]],
) -> list[Path]:
    """`ranks_<q>_to_<c>.png` per direction and `similarity_<a>_<b>.png` (the first
    `SIMILARITY_ITEMS` items, audio vs sheet or the first pair); returns the paths written."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(folder, f"cannot create the plots folder ({exc.strerror})") from None
    written = []
    ranks = query_ranks(embeddings, groups, pairs)
    pool = metrics.group_ids(list(groups), len(groups))[1]
    for (q, c), (name, r) in zip(pairs, ranks.items()):
        path = folder / f"ranks_{q}_to_{c}.png"
        mrr = float(np.mean(1.0 / r))
        plot_ranks(r, pool, f"{name}: MRR {mrr:.3f}, R@1 {np.mean(r <= 1):.3f}", path)
        written.append(path)
    a, b = pairs[0]  # the first pair in the usual order: audio and sheet when the run has both
    n = min(SIMILARITY_ITEMS, len(groups))
    path = folder / f"similarity_{a}_{b}.png"
    plot_similarity(embeddings[a][:n], embeddings[b][:n], (a, b), path)
    written.append(path)
    return written


# -- the whole evaluation -----------------------------------------------------------------
def evaluate(
    run: Run | str | Path,
    data_dir: str | Path,
    split: str = "test",
    pool: int | None = None,
    draws: int = 10,
    seed: int = 0,
    plots: str | Path | None = None,
    *,
    batch_size: int = 64,
    registry: Registry | None = None,
    say: Say | None = None,
    advance: Callable[[int], None] | None = None,
    start: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Evaluate `run` (a `Run` or a run folder) on `split` of the dataset folder `data_dir`.

    Returns `{"directions": {"audio->sheet": {"R@1", "R@5", "R@10", "MRR", "MedR", "pool",
    "chance_MRR", "ceiling_MRR"}, ...}, "baselines": {"syllable_count": {"lyrics->audio": {...}, ...},
    "onset_count": {"lyrics->audio": {...}, "audio->lyrics": {...}}},
    "run": run_id, "split": split, "items": N}`, with `<key>_std` beside each figure when
    `pool` is given. `baselines` holds every registered baseline whose modalities the run has
    (`syllable_count` needs the manifest's note counts, `onset_count` the audio). `plots`: a folder for the rank histograms and the similarity matrix.
    `say(message)`: notes for the user; `start(total)` then `advance(k)`: embedding progress."""
    if pool is not None and pool < 1:
        raise OptionError(f"--pool must be at least 1 (got {pool})")
    if draws < 1:
        raise OptionError(f"--draws must be at least 1 (got {draws})")
    if batch_size < 1:
        raise OptionError(f"--batch-size must be at least 1 (got {batch_size})")
    folder = open_folder(data_dir)  # before the run: loading a run can take a while
    if not isinstance(run, Run):
        run = Run.load(run, registry)
    modalities = ordered_modalities(run.modalities)
    items = load_split(folder, split, modalities, say)
    groups = group_keys(items)
    n_groups = metrics.group_ids(groups, len(groups))[1]
    if pool is not None and pool > n_groups:
        raise OptionError(f"--pool {pool} is larger than the {n_groups} candidates of the {split} split")
    pairs = directions_of(modalities)

    if start is not None:
        start(len(items) * len(modalities))
    embeddings = embed_items(run, items, batch_size, advance)
    figures = model_figures(embeddings, groups, pairs, pool, draws, seed)
    keys = {m: [content_key(it, m) for it in items] for m in modalities}
    for d, ceiling in ceiling_figures(keys, groups, pairs, pool, draws, seed).items():
        figures[d]["ceiling_MRR"] = ceiling
    result: dict[str, Any] = {
        "directions": figures,
        "baselines": {},
        "run": run.run_id,
        "split": split,
        "items": len(items),
    }

    split_view = Split(items, groups, pairs, pool, draws, seed, say or (lambda message: None))
    for comp in (registry or get_registry()).all("baseline"):
        baseline: type[Baseline] = comp.cls
        if baseline.needs <= set(modalities):
            rows = baseline().figures(split_view)
            if rows:
                result["baselines"][baseline.name] = rows

    if plots is not None:
        written = write_plots(Path(plots), embeddings, groups, pairs)
        if say is not None:
            say(f"{len(written)} plots written to {plots}")
    return result
