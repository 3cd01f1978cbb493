"""What a trained run's shared space encodes: per-component correlations and the note count.

    .venv/bin/python benchmarks/probe.py RUN --data DATASET [--split test] [--items 800]

Embeds the first `--items` passages of the split with the run and prints, per component of
the shared space, the correlation of each pair of modalities, and for each modality the share
of its embedding's variance that a linear function of the passage's note count explains (R^2).
On syllable-aligned data (one note per syllable) the note count is the syllable count, the one
cue the lyrics text is known to carry about the music (docs/benchmarks.md). A lyrics embedding
that is mostly note count can only retrieve audio or sheet if their embeddings hold it too.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def column_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of `x[:, j]` with `y[:, j]` for every column `j` (`y` may be one column,
    broadcast against all of `x`'s)."""
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    denom = np.sqrt((x * x).sum(axis=0) * (y * y).sum(axis=0))
    return np.divide((x * y).sum(axis=0), denom, out=np.zeros(x.shape[1]), where=denom > 0)


def explained_by(x: np.ndarray, c: np.ndarray) -> float:
    """R^2: the share of the total variance of the rows `x` `(N, k)` that a linear function of the
    scalar `c` `(N,)` explains (least squares, per column, weighted by the column's variance)."""
    r = column_correlations(x, c[:, None])  # `c` broadcasts against every column
    var = x.var(axis=0)
    return float((r**2 * var).sum() / var.sum()) if var.sum() > 0 else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run folder")
    ap.add_argument("--data", type=Path, required=True, help="the dataset folder the run was trained on")
    ap.add_argument("--split", default="test")
    ap.add_argument("--items", type=int, default=800, help="passages of the split to embed (default 800)")
    args = ap.parse_args(argv)

    import torch
    from ugaar_kit_plugins.baseline_counts.counts import note_count

    from ugaar_kit.errors import UgaarError
    from ugaar_kit.inference.run import Run
    from ugaar_kit.retrieval.evaluation import embed_items, load_split, open_folder

    torch.set_num_threads(1)
    try:
        run = Run.load(args.run)
        items = load_split(open_folder(args.data), args.split, run.modalities)[: args.items]
    except UgaarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emb = {m: e.double().numpy() for m, e in embed_items(run, items).items()}  # Run.embed: no grad
    counts = np.array([note_count(it) or 0 for it in items], dtype=float)
    print(f"{args.run}: {len(items)} {args.split} passages, {run.shared_dim} components")
    np.set_printoptions(precision=2, suppress=True, linewidth=120)
    for a, b in itertools.combinations(emb, 2):
        r = column_correlations(emb[a], emb[b])
        print(f"corr {a}-{b} per component (mean {r.mean():.3f}): {r}")
    for m, x in emb.items():
        print(f"{m}: R^2 of the note count {explained_by(x, counts):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
