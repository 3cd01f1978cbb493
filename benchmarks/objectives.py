"""Time the objectives' loss forward+backward and the retrieval metrics on random data.

    .venv/bin/python benchmarks/objectives.py                 # batch 1024, 128 dims, 1 thread
    .venv/bin/python benchmarks/objectives.py --batch 512 --dim 64 --threads 2

Prints one table row per case: the median wall time over `--repeats` runs after one warm-up.
Not a test: timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from rich.console import Console
from rich.table import Table
from ugaar_kit_plugins.objective_cca.objective import LinearCCA
from ugaar_kit_plugins.objective_contrastive.objective import Contrastive
from ugaar_kit_plugins.objective_dcca.objective import DeepCCA

from ugaar_kit.retrieval.metrics import retrieval_metrics
from ugaar_kit.toolkit.cca import fit_pca


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def loss_case(cls: type, values: dict, mods: tuple[str, ...], batch: int, dim: int) -> Callable[[], object]:
    """Forward and backward of `cls`'s loss on float32 views that require gradients."""
    obj = cls.from_options(values, {m: dim for m in mods})
    latent = torch.randn(batch, dim)
    views = {m: (latent + torch.randn(batch, dim)).requires_grad_() for m in mods}

    def run() -> object:
        for v in views.values():
            v.grad = None
        obj.loss(views)["objective"].backward()
        return None

    return run


def measure(
    batch: int = 1024, dim: int = 128, threads: int = 1, repeats: int = 20, items: int = 10_000
) -> list[tuple[str, str, float]]:
    """`(case, size, median ms)` for every case; what `main` prints (speed.py folds it in)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    b, d = batch, dim
    two, three = ("audio", "lyrics"), ("audio", "sheet", "lyrics")
    cases: list[tuple[str, str, Callable[[], object], int]] = [
        ("dcca, 2 views (float64 inside)", f"{b} x {d}", loss_case(DeepCCA, {}, two, b, d), repeats),
        ("dcca, 3 views, sum of pairs", f"{b} x {d}", loss_case(DeepCCA, {}, three, b, d), repeats),
        ("dcca, 3 views, gcca", f"{b} x {d}", loss_case(DeepCCA, {"multiview": "gcca"}, three, b, d), repeats),
        ("contrastive, 2 views (float32)", f"{b} x {d}", loss_case(Contrastive, {}, two, b, d), repeats),
        ("contrastive, 3 views", f"{b} x {d}", loss_case(Contrastive, {}, three, b, d), repeats),
    ]
    n = items
    embs = {"audio": torch.randn(n, d), "sheet": torch.randn(n, d)}
    cases.append(
        (
            "retrieval_metrics, 1 direction",
            f"{n} x {d}",
            lambda: retrieval_metrics(embs, directions=[("audio", "sheet")]),
            3,
        )
    )
    raw = {"audio": torch.randn(5000, 2000), "sheet": torch.randn(5000, 1500)}
    cca = LinearCCA.from_options({"pca_dims": 128, "dim": 32}, {"audio": 2000, "sheet": 1500})
    cases.append(("cca fit (PCA 128, CCA 32)", "5000 x 2000 + 1500", lambda: cca.fit(raw), 3))
    cases.append(
        ("fit_pca randomized (128)", "5000 x 2000", lambda: fit_pca(raw["audio"].double(), 128, exact_below=1000), 3)
    )
    return [(name, size, median_ms(fn, reps)) for name, size, fn, reps in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--items", type=int, default=10_000, help="items for the retrieval-metrics row")
    args = parser.parse_args()
    rows = measure(args.batch, args.dim, args.threads, args.repeats, args.items)
    table = Table(title=f"objectives and metrics, {args.threads} torch thread(s), median of repeats")
    for col in ("case", "size", "ms"):
        table.add_column(col, justify="right" if col == "ms" else "left")
    for name, size, ms in rows:
        table.add_row(name, size, f"{ms:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
