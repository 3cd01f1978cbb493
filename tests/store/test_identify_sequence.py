"""Identification's hubness correction and its `sequence` aggregate (issue 21), on stores whose
answer is known: a hub row near every query loses its votes; two pieces holding the same music
in another order are told apart only by the order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ugaar_kit.interfaces.modality import AUDIO, SHEET
from ugaar_kit.retrieval.hubness import hubness, penalty
from ugaar_kit.retrieval.identify import chosen_aggregate, identify
from ugaar_kit.retrieval.locate import sequence_cost
from ugaar_kit.store.exact import normalize_rows, top_k
from ugaar_kit.store.reader import Store
from ugaar_kit.store.tables import FileRows
from ugaar_kit.store.writer import StoreWriter


def _write(path: Path, rows: dict[str, list[tuple[str, np.ndarray]]]) -> Path:
    """A store of one row per file: modality -> [(source, vector)]."""
    with StoreWriter(path, run_id="t", settings={"window": 5.0, "hop": 2.5}) as w:
        for m, items in rows.items():
            w.add_files(m, [FileRows(src, 1, 1.0, [src], v[None].astype(np.float32)) for src, v in items])
    return path


def _unit(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    return normalize_rows(rng.standard_normal((n, dim)))


def test_a_hub_near_every_query_loses_its_place_once_corrected(tmp_path):
    rng = np.random.default_rng(0)
    common = _unit(rng, 1)[0]
    audio = normalize_rows(common + 0.7 * _unit(rng, 40))  # recordings sharing a direction
    sheet = normalize_rows(audio + 0.8 * _unit(rng, 40))  # each sheet row nearest its own recording
    hub = common  # a snippet near every recording at once
    store = _write(
        tmp_path / "s.h5",
        {
            AUDIO: [(f"p{i}/a.wav", v) for i, v in enumerate(audio)],
            SHEET: [(f"p{i}/s.png", v) for i, v in enumerate(sheet)] + [("hub/s.png", hub)],
        },
    )
    with Store(store) as st:
        hubs = hubness(st, SHEET, AUDIO, k=5)
        assert hubs is not None and hubs.shape == (41,)
        assert hubs[-1] > hubs[:-1].max()  # the hub is nearer its 5 nearest recordings than any row
        assert hubness(st, SHEET, "lyrics") is None  # no rows of the query's modality: nothing to measure
        cost = penalty(st, SHEET, AUDIO)
        assert cost is not None
        rows = np.asarray(st.unit(SHEET)[:])
    plain_first = top_k(audio, rows, 1, unit=True)[1][:, 0]
    fixed_first = top_k(audio, rows, 1, unit=True, penalty=cost)[1][:, 0]
    assert (plain_first == 40).sum() > (fixed_first == 40).sum()  # the hub wins fewer first places
    assert (fixed_first == np.arange(40)).mean() > (plain_first == np.arange(40)).mean()


def test_a_sequence_in_its_order_costs_less_than_shuffled():
    rng = np.random.default_rng(1)
    piece = _unit(rng, 12)
    query = normalize_rows(piece + 0.2 * _unit(rng, 12))
    shuffled = piece[rng.permutation(12)]
    assert sequence_cost(query @ piece.T) < sequence_cost(query @ shuffled.T)
    # a short query finds its stretch of a longer piece (subsequence): it costs what matching it costs
    part = query[4:7]
    assert sequence_cost(part @ piece.T) == pytest.approx(
        float(np.mean(1 - np.sum(part * piece[4:7], axis=1))), rel=1e-5
    )


def test_sequence_tells_apart_two_pieces_of_the_same_passages_in_another_order(tmp_path):
    """Piece A plays passages 0..9; piece B the same passages backwards: every window of a
    recording of A has a twin in B, so votes cannot choose; the order does."""
    rng = np.random.default_rng(2)
    passages = _unit(rng, 10)
    rows = [(f"A/{i:03d}.png", passages[i]) for i in range(10)]
    rows += [(f"B/{i:03d}.png", passages[9 - i] + 0.01 * _unit(rng, 1)[0]) for i in range(10)]
    rows += [(f"C{j}/{i:03d}.png", v) for j in range(3) for i, v in enumerate(_unit(rng, 10))]  # distractors
    store = _write(tmp_path / "s.h5", {SHEET: rows})
    recording = normalize_rows(passages + 0.3 * _unit(rng, 10))  # A, in order
    orders = {"A": [np.arange(10)], "B": [np.arange(10, 20)]}
    orders.update({f"C{j}": [np.arange(20 + 10 * j, 30 + 10 * j)] for j in range(3)})
    with Store(store) as st:
        votes = identify(st, recording, SHEET, k=2, aggregate="votes", top=5)
        assert {p.piece for p in votes[:2]} == {"A", "B"}
        assert votes[0].score == pytest.approx(votes[1].score)  # a tie in votes
        ranked = identify(st, recording, SHEET, k=2, aggregate="sequence", top=5, orders=orders)
        assert ranked[0].piece == "A" and ranked[1].piece == "B"
        assert ranked[0].score > ranked[1].score  # 1 - the alignment's cost
        assert [p.rank for p in ranked] == list(range(1, len(ranked) + 1))
        with pytest.raises(ValueError, match="in order"):
            identify(st, recording, SHEET, aggregate="sequence")


def test_auto_uses_the_sequence_for_long_recordings_only():
    assert chosen_aggregate("auto", AUDIO, 40, ordered=True) == "sequence"
    assert chosen_aggregate("auto", AUDIO, 3, ordered=True) == "votes"  # a 10-s excerpt
    assert chosen_aggregate("auto", AUDIO, 40, ordered=False) == "votes"  # no order known
    assert chosen_aggregate("auto", SHEET, 40, ordered=True) == "votes"  # a page
    assert chosen_aggregate("counts", AUDIO, 40, ordered=True) == "counts"
