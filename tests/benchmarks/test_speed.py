"""speed.py's logic: what the losses compared return, the files embed reads, the search section's
record, number formatting. No timing is asserted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import soundfile
import speed
import torch
from ugaar_kit_plugins.objective_dcca.objective import DeepCCA

from ugaar_kit.interfaces.dataset import DatasetFolder


def correlated(n: int = 512, d: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    latent = torch.randn(n, d, generator=g, dtype=torch.float64)
    return latent + torch.randn(n, d, generator=g, dtype=torch.float64), latent + torch.randn(
        n, d, generator=g, dtype=torch.float64
    )


def test_our_dcca_loss_is_minus_the_total_canonical_correlation() -> None:
    a, b = correlated()
    rho = speed.canonical_correlations(a, b, 1e-3)
    assert rho.shape == (16,) and bool(((rho > 0.3) & (rho < 0.7)).all())  # latent + unit noise: about 0.5
    ours = DeepCCA.from_options({}, {"audio": 16, "sheet": 16})
    value = float(ours.loss({"audio": a.float(), "sheet": b.float()})["objective"])
    assert value == pytest.approx(-float(rho.sum()), rel=1e-5)


def test_cca_zoo_loss_is_minus_the_sum_of_squared_correlations() -> None:
    losses = pytest.importorskip("cca_zoo.deep.objectives")
    a, b = correlated()
    rho = speed.canonical_correlations(a, b, 1e-6)
    value = float(losses.CCALoss()([a, b]))
    assert value == pytest.approx(-float((rho**2).sum()), rel=1e-9)
    assert abs(value) < 0.6 * float(rho.sum())  # squares of correlations near 0.5: not the total correlation


def test_link_files_takes_audio_and_sheet_in_turn(split_data: Path, tmp_path: Path) -> None:
    items = DatasetFolder(split_data).items
    seconds = speed.link_files(items, 7, tmp_path / "files")
    linked = sorted(p for p in (tmp_path / "files").rglob("*") if p.is_file())
    assert len(linked) == 7
    assert sum(p.suffix == ".wav" for p in linked) == 4 and sum(p.suffix == ".png" for p in linked) == 3
    assert seconds == pytest.approx(sum(soundfile.info(str(it.audio)).duration for it in items[:4]))
    assert all(os.path.samefile(p, split_data / p.parent.name / p.name.replace("-data", "")) for p in linked)
    with pytest.raises(SystemExit, match="only 136 audio and sheet files, 1000 asked for"):
        speed.link_files(items, 1000, tmp_path / "more")


def test_search_section_records_every_method_per_size() -> None:
    args = speed.parser().parse_args(["--search-rows", "3000", "--queries", "4", "--dim", "8", "--no-search-cli"])
    result = speed.section_search(args)
    assert result["section"] == "search" and result["command"].endswith("--only search")
    methods = [row[1] for row in result["rows"]]
    assert methods[:4] == [
        speed.ANCHOR,
        "top_k over the store's unit rows, memory-mapped",
        "0.1.0: top_k normalising every row per call, in memory",
        "0.1.0: top_k normalising every row per call, from HDF5",
    ]
    assert methods[-1] == "top_k over the unit rows, 4 queries at once, per query"
    assert result["rows"][0][0] == "3,000" and result["rows"][0][3] == "1.00"
    assert all(d["ms_per_query"] > 0 for d in result["data"])


def test_numbers_are_shown_with_three_significant_digits() -> None:
    assert speed.fmt(1234.5) == "1,234"
    assert speed.fmt(12.345) == "12.3"
    assert speed.fmt(0.012345) == "0.0123"
    assert speed.fmt(0) == "0"
