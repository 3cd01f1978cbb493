"""speed.py's `pipeline` and `index` sections: what they record (no timing is asserted)."""

from __future__ import annotations

import numpy as np
import pytest
import speed


def test_pipeline_section_embeds_the_same_files_with_each_worker_count() -> None:
    args = speed.parser().parse_args(["--pipeline-files", "10", "--pipeline-workers", "0", "1"])
    result = speed.section_pipeline(args)
    assert result["section"] == "pipeline" and result["command"].endswith("--only pipeline")
    assert [row[:2] for row in result["rows"]] == [["10", "0"], ["10", "1"]]
    first, second = result["data"]
    assert first["files"] == second["files"] == 10 and first["already"] == 0
    assert first["rows"] == second["rows"] > 10  # audio files give several windows each
    assert first["audio_seconds"] == pytest.approx(second["audio_seconds"])
    assert first["audio_seconds"] == pytest.approx(first["audio_written"], rel=1e-3)
    assert "10 files are" in result["notes"][0]


def test_index_section_reports_build_and_recall_per_data_kind() -> None:
    pytest.importorskip("faiss")
    args = speed.parser().parse_args(
        ["--index-rows", "3000", "--index-dim", "8", "--queries", "20", "--index-nprobe", "16"]
    )
    result = speed.section_index(args)
    assert result["section"] == "index" and result["command"].endswith("--only index")
    assert [row[:3] for row in result["rows"]] == [["3,000", "clustered", "flat"], ["3,000", "unstructured", "flat"]]
    for d in result["data"]:
        # a flat index below IVF_MIN_ROWS rows is exact
        assert d["recall_at_10_reported"] == pytest.approx(1.0) and d["recall_at_10_held_out"] == pytest.approx(1.0)
        assert d["recall_queries"] == 1000 and d["held_out_queries"] == 20 and d["dim"] == 8


def test_synthetic_rows_and_recall() -> None:
    from ugaar_kit.retrieval.search import top_k

    nearest = {}
    for kind in ("clustered", "unstructured"):
        rows = speed.synthetic_rows(kind, 3000, 16, np.random.default_rng(0))
        assert rows.shape == (3000, 16) and rows.dtype == np.float32
        scores, _ = top_k(rows[:200], rows, 2)
        nearest[kind] = float(scores[:, 1].mean())  # cosine to the nearest other row
    assert nearest["clustered"] > 0.88 > 0.8 > nearest["unstructured"]  # rows crowd around centres, or do not
    assert speed.recall_at(np.array([[1, 2], [3, 4]]), np.array([[2, 9], [3, 4]])) == pytest.approx(0.75)
