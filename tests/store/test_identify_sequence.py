"""Identification's hubness correction and its `sequence` aggregate (issue 21), on stores whose
answer is known: a hub row near every query loses its votes; two pieces holding the same music
in another order are told apart only by the order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ugaar_kit.interfaces.modality import AUDIO, LYRICS, SHEET
from ugaar_kit.retrieval.hubness import applies, holds_pages, hubness, penalty
from ugaar_kit.retrieval.identify import SHORTLIST, chosen_aggregate, identify, recording_orders
from ugaar_kit.retrieval.locate import sequence_cost, timeline_fit
from ugaar_kit.retrieval.played import Played
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


def _played(rows: np.ndarray, seconds: float = 4.0) -> Played:
    """A version whose passages last `seconds` each, one after another."""
    starts = seconds * np.arange(len(rows), dtype=np.float64)
    return Played(np.asarray(rows), starts, starts + seconds)


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
    orders = {"A": [_played(np.arange(10))], "B": [_played(np.arange(10, 20))]}
    orders.update({f"C{j}": [_played(np.arange(20 + 10 * j, 30 + 10 * j))] for j in range(3)})
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


def test_auto_uses_the_sequence_for_long_recordings_and_the_timeline_for_excerpts():
    assert chosen_aggregate("auto", AUDIO, 40, ordered=True) == "sequence"
    assert chosen_aggregate("auto", AUDIO, 3, ordered=True, timed=True) == "timeline"  # a 10-s excerpt
    assert chosen_aggregate("auto", AUDIO, 3, ordered=True) == "votes"  # its windows' times unknown
    assert chosen_aggregate("auto", AUDIO, 40, ordered=False) == "votes"  # no order known
    assert chosen_aggregate("auto", SHEET, 40, ordered=True) == "votes"  # a page, its target unknown
    assert chosen_aggregate("counts", AUDIO, 40, ordered=True) == "counts"


def test_the_timeline_fit_finds_the_offset_where_the_windows_sound():
    """Passages of 4 s; windows of 4 s every 2 s starting 6 s into the piece: the fit is best at
    offset 6, where each window scores what the passages it covers score, weighted by cover."""
    starts = 4.0 * np.arange(6)
    ends = starts + 4.0
    spans = [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0)]  # covering passages 1.5-2.5, 2-3, 2.5-3.5
    sims = np.zeros((3, 6))
    sims[0, 1] = sims[0, 2] = sims[1, 2] = sims[2, 2] = sims[2, 3] = 1.0
    fit, offset, tempo = timeline_fit(sims, spans, starts, ends, step=0.5)
    assert offset == pytest.approx(6.0) and tempo == 1.0
    assert fit == pytest.approx(1.0)
    fit0, _, _ = timeline_fit(sims[:, :2], spans, starts[:2], ends[:2])  # a piece too short to hold them
    assert fit0 < fit


def test_timeline_tells_apart_two_pieces_whose_passages_last_differently(tmp_path):
    """Pieces A and B hold the same passages in the same order, so votes and their order tie;
    in A each lasts 4 s, in B they alternate 1 s and 7 s. An excerpt of A, windows of 3 s every
    1.5 s, fits A's timing only."""
    rng = np.random.default_rng(3)
    passages = _unit(rng, 8)
    rows = [(f"A/{i:03d}.png", passages[i]) for i in range(8)]
    rows += [(f"B/{i:03d}.png", passages[i] + 0.01 * _unit(rng, 1)[0]) for i in range(8)]
    rows += [(f"C{j}/{i:03d}.png", v) for j in range(3) for i, v in enumerate(_unit(rng, 8))]
    store = _write(tmp_path / "s.h5", {SHEET: rows})
    b_len = np.array([1.0, 7.0] * 4)
    b_starts = np.concatenate([[0.0], np.cumsum(b_len)[:-1]])
    orders = {"A": [_played(np.arange(8))], "B": [Played(np.arange(8, 16), b_starts, b_starts + b_len)]}
    orders.update({f"C{j}": [_played(np.arange(16 + 8 * j, 24 + 8 * j))] for j in range(3)})
    spans = [(1.5 * i, 1.5 * i + 3.0) for i in range(5)]  # 9 s of A from 8 s: passages 2 to 4
    a_starts = 4.0 * np.arange(8)
    excerpt = []
    for a, b in spans:  # each window: the passages of A it covers, by how much
        lo, hi = 8.0 + a, 8.0 + b
        cover = np.clip(np.minimum(hi, a_starts + 4.0) - np.maximum(lo, a_starts), 0.0, None)
        excerpt.append(cover @ passages)
    excerpt = normalize_rows(np.asarray(excerpt) + 0.05 * _unit(rng, len(spans)))
    with Store(store) as st:
        votes = identify(st, excerpt, SHEET, k=2, aggregate="votes", top=5)
        assert {p.piece for p in votes[:2]} == {"A", "B"}
        ranked = identify(st, excerpt, SHEET, k=2, aggregate="timeline", top=5, orders=orders, spans=spans)
        assert [p.piece for p in ranked[:2]] == ["A", "B"]
        assert ranked[0].score > ranked[1].score
        with pytest.raises(ValueError, match="spans"):
            identify(st, excerpt, SHEET, aggregate="timeline", orders=orders)


def _recording(source: str, vectors: np.ndarray, order: np.ndarray, hop: float = 2.0) -> FileRows:
    """A recording stored in windows of `hop`*2 s every `hop` s, its rows written in `order`."""
    starts = [hop * float(i) for i in order]
    ids = [f"{source}#t={s:g}-{s + 2 * hop:g}" for s in starts]
    return FileRows(source, 1, 1.0, ids, vectors[order].astype(np.float32), starts, [s + 2 * hop for s in starts])


def test_a_page_is_identified_by_the_stretch_of_a_recording_it_follows(tmp_path):
    """Recordings A and B hold the same twelve windows of music, B backwards; a page printing
    five of A's in order ties them in votes; aligned with the best stretch of each recording
    (`recording_orders`, from the store alone), A wins. A file of two windows is too short to
    hold the page and is not aligned; rows without times (passage snippets) are no recording."""
    rng = np.random.default_rng(4)
    music = _unit(rng, 12)
    distractors = [_unit(rng, 12) for _ in range(3)]
    with StoreWriter(tmp_path / "s.h5", run_id="t", settings={"window": 4.0, "hop": 2.0}) as w:
        w.add_files(
            AUDIO,
            [
                _recording("A/song.wav", music, rng.permutation(12)),  # rows written out of time order
                _recording("B/song.wav", music[::-1] + 0.01 * _unit(rng, 12), np.arange(12)),
                _recording("D/short.wav", music[4:6], np.arange(2)),  # two windows of the page's music
                *(_recording(f"C{j}/song.wav", d, np.arange(12)) for j, d in enumerate(distractors)),
            ],
        )
        w.add_files(AUDIO, [FileRows("E/passage.wav", 1, 1.0, ["E/passage.wav"], music[:1].astype(np.float32))])
        w.add_files(
            SHEET, [FileRows("A/page.png", 1, 1.0, ["A/page.png#system=1&x=0-100"], music[:1].astype(np.float32))]
        )
    page = normalize_rows(music[3:8] + 0.2 * _unit(rng, 5))
    with Store(tmp_path / "s.h5") as st:
        orders = recording_orders(st)
        assert sorted(orders) == ["A", "B", "C0", "C1", "C2", "D"]  # E's row has no times: not a recording
        a = orders["A"][0]
        assert np.all(np.diff(a.starts) > 0) and np.allclose(st.unit_rows(AUDIO, a.rows), music, atol=1e-6)
        votes = identify(st, page, AUDIO, k=3, aggregate="votes", top=6)
        assert {p.piece for p in votes[:3]} == {"A", "B", "D"}  # A and B tie but for noise; D's rows all vote
        ranked = identify(st, page, AUDIO, k=3, aggregate="sequence", top=6, orders=orders)
        names = [p.piece for p in ranked]
        assert names[:2] == ["A", "B"] and ranked[0].score > ranked[1].score
        assert names[: min(len(names), SHORTLIST)][-1] == "D"  # too short to hold the page: not aligned, last
        assert applies(SHEET, st) and holds_pages(st)  # pages stored: a page's hits are corrected
    assert chosen_aggregate("auto", SHEET, 5, ordered=True, target=AUDIO) == "sequence"
    assert chosen_aggregate("auto", SHEET, 5, ordered=True, target=LYRICS) == "votes"


def test_page_queries_are_corrected_for_hubness_only_where_pages_are_stored(tmp_path):
    rng = np.random.default_rng(5)
    store = _write(tmp_path / "s.h5", {AUDIO: [("p/a.wav", _unit(rng, 1)[0])], SHEET: [("p/s.png", _unit(rng, 1)[0])]})
    with Store(store) as st:
        assert not holds_pages(st) and not applies(SHEET, st)  # snippets only: not corrected
        assert applies(AUDIO, st) and applies(AUDIO)
    assert not applies(SHEET)
