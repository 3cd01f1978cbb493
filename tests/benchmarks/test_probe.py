"""benchmarks/probe.py: its two statistics against hand computations."""

from __future__ import annotations

import numpy as np
import probe


def test_column_correlations_match_numpy() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3))
    y = np.column_stack([x[:, 0] * 2 + 1, -x[:, 1], rng.standard_normal(200)])
    r = probe.column_correlations(x, y)
    assert np.allclose(r[:2], [1.0, -1.0])
    assert np.isclose(r[2], np.corrcoef(x[:, 2], y[:, 2])[0, 1])
    assert probe.column_correlations(np.ones((5, 1)), np.arange(5.0)[:, None])[0] == 0.0  # constant column


def test_explained_by_is_the_variance_share_of_a_linear_fit() -> None:
    rng = np.random.default_rng(1)
    c = rng.standard_normal(5000)
    # column 0 is c exactly (variance 1), column 1 independent noise of variance 9
    x = np.column_stack([c, 3 * rng.standard_normal(5000)])
    assert abs(probe.explained_by(x, c) - 1 / 10) < 0.01
    assert probe.explained_by(x[:, :1], c) > 0.999
    assert probe.explained_by(x[:, 1:], c) < 0.01
