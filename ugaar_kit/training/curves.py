"""`RUN/curves.png`: training loss terms and validation MRR per epoch (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ugaar_kit.infra.atomic import atomic_path


def plot_curves(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Two panels from metrics rows: loss terms (train, and valid objective) and validation
    MRR per direction with their mean. Written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_mrr = fig.subplots(1, 2)
    epochs = [int(r["epoch"]) for r in rows]
    terms = sorted({k for r in rows for k in r.get("train", {})})
    for term in terms:
        ax_loss.plot(
            epochs, [r.get("train", {}).get(term, float("nan")) for r in rows], marker=".", label=f"train {term}"
        )
    if any("objective" in r.get("valid_loss", {}) for r in rows):
        ax_loss.plot(
            epochs,
            [r.get("valid_loss", {}).get("objective", float("nan")) for r in rows],
            marker=".",
            linestyle="--",
            label="valid objective",
        )
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("losses")
    if terms:
        ax_loss.legend(fontsize="small")

    directions = sorted({d for r in rows for d in r.get("valid", {})})
    for d in directions:
        ax_mrr.plot(epochs, [r.get("valid", {}).get(d, {}).get("MRR", float("nan")) for r in rows], marker=".", label=d)
    if directions:
        ax_mrr.plot(epochs, [r.get("valid_mrr", float("nan")) for r in rows], color="black", linewidth=2, label="mean")
        chance = [r.get("valid", {}).get(directions[0], {}).get("chance_MRR") for r in rows]
        if chance and chance[-1] is not None:
            ax_mrr.axhline(float(chance[-1]), color="gray", linestyle=":", label="chance")
        ax_mrr.legend(fontsize="small")
    ax_mrr.set_xlabel("epoch")
    ax_mrr.set_ylabel("MRR")
    ax_mrr.set_title("validation retrieval")

    with atomic_path(Path(path), suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
