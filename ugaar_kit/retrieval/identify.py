"""Identifying the piece a whole query comes from: a recording, a page of a score, lyrics.

A query gives many vectors (a recording its windows, a page the windows along its systems,
lyrics their lines); each is searched among the store's rows of another modality, and the hits
vote for the pieces their rows belong to (Dorfer et al.'s audio-to-sheet piece identification,
TISMIR 2018): `counts` counts each piece's rows among every vector's `k` nearest; `votes` (the
default) divides that by the piece's number of stored rows, since a piece of many rows draws
many votes by chance; `similarity` sums, over the vectors, the best cosine of each piece among
them. Pieces are ranked by that score (ties by the best single hit). On the valid songs of the
200-song build (27, seed 0), identifying whole recordings: counts top-1 0.44, top-5 0.78;
votes 0.63, 0.96; similarity 0.59, 0.78.

`sequence` takes the `SHORTLIST` pieces best by votes and ranks them by how well the query's
vectors, in order, follow each piece's rows in the order they are played (dynamic time warping,
`ugaar_kit.retrieval.locate.sequence_cost`): a whole recording must match the piece passage
after passage, where votes only count passages that match somewhere. It needs each piece's rows
in order (`piece_orders`, from a dataset folder). On those valid songs (seeds 0 and 1, with the
hubness correction) it identified 0.93 of whole recordings (votes: 0.70 and 0.74); on 10-s
excerpts (six windows) it did worse than votes, so `auto` uses it for recordings of at least
`SEQUENCE_MIN` windows only.

`timeline` takes the same shortlist and ranks it by how well the query's windows fit each
piece's passages laid on the score's timing (`songs.jsonl`'s times): at the offset where the
windows, each scored by the passages it covers weighted by how much it covers, fit best
(`ugaar_kit.retrieval.locate.timeline_fit`, as `locate` places an excerpt), plus
`TIMELINE_VOTES` of the piece's share of the shortlist's most votes. Where `sequence` lets six
windows warp onto any six passages, the timing holds them to passages of the lengths they
span. On 10-s excerpts of those valid songs it identified 0.53 and 0.51 (votes: 0.45 and
0.44); `auto` uses it for recordings shorter than `SEQUENCE_MIN` windows. It needs each
window's times: a recording's. It assumes the score's tempo, yet excerpts played 0.8 to 1.25
times as fast still fit better than votes count (docs/benchmarks.md).

A page of a score is a stretch of its piece: `sequence` aligns its windows, in reading order,
with the best stretch of each shortlisted piece's recordings, their stored windows in time order
(`recording_orders`, from the store alone), plus `PAGE_VOTES` of the piece's share of the
shortlist's most votes; `auto` uses it for pages when the store holds recordings in windows. On
the 200-song build's page windows runs (seeds 0, 1, 2; 51 valid, 49 test pages) it identified
1.00, 1.00, 1.00 of the valid pages (votes: 0.92, 0.96, 0.94) and 0.98, 0.96, 0.96 of the test
ones (votes: 0.94, 0.94, 0.88), hits corrected for hubness (scratch, on the pages' stored
windows; docs/benchmarks.md has the evaluation's figures).

Every aggregate can score hits by their cosine corrected for hubness
(`ugaar_kit.retrieval.hubness`: `penalty`), on by default in `identify` and `eval`.

A stored row's piece is its song when a dataset folder says which file belongs to which song
(`manifest.jsonl`, and `songs.jsonl` of a `--whole-songs` build: the versions of one song are
one piece), else the folder holding the file (one folder a piece).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import MANIFEST, SONGS, json_rows
from ugaar_kit.interfaces.modality import AUDIO, SHEET
from ugaar_kit.retrieval.search import Hit, normalize_rows, search_many
from ugaar_kit.store.reader import Store

if TYPE_CHECKING:
    from ugaar_kit.retrieval.locate import Cuts
    from ugaar_kit.retrieval.played import Played

Aggregate = Literal["votes", "counts", "similarity", "sequence", "timeline"]
AGGREGATES: tuple[str, ...] = ("votes", "counts", "similarity", "sequence", "timeline")
AGGREGATE_CHOICES: tuple[str, ...] = ("auto", *AGGREGATES)
"""What a user may ask for: an aggregate, or `auto` (`chosen_aggregate`)."""
SEQUENCE_MIN = 8
"""Windows a recording needs for `auto` to identify it by `sequence` (20 s at the default hop)."""
SHORTLIST = 10
"""Pieces, best by votes, that `sequence` and `timeline` re-rank by aligning the query to them."""
TIMELINE_VOTES = 0.1
"""`timeline`: the weight of a piece's votes (a share of the shortlist's most) beside its fit."""
ORDERED: tuple[str, ...] = ("sequence", "timeline")
"""The aggregates that need each piece's rows in order (`piece_orders` of a dataset folder, or
`recording_orders` of a store's recordings)."""
PAGE_VOTES = 0.1
"""`sequence` against recordings (a page): the weight of a piece's votes (a share of the
shortlist's most) beside its alignment's mean score."""


@dataclass(frozen=True)
class PieceScore:
    """One piece in a ranking: its score, the hits that voted for it, its best hit."""

    piece: str
    rank: int
    score: float
    votes: int
    best: Hit

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def dataset_pieces(root: Path) -> dict[str, str]:
    """File path relative to the dataset folder -> its piece (the `song` of its manifest row, or
    of its `songs.jsonl` row for a whole song's recording and pages)."""
    out: dict[str, str] = {}
    for name in (MANIFEST, SONGS):
        path = Path(root) / name
        if not path.is_file():
            if name == MANIFEST:
                raise InputError(root, f"not a dataset folder (no {MANIFEST})")
            continue
        for _where, row in json_rows(path):
            piece = str(row.get("song", row.get("song_id", row.get("id", ""))))
            out.update({f: piece for f in row_files(row)})
    return out


def row_files(row: Mapping[str, Any]) -> list[str]:
    """The files a manifest or songs.jsonl row names, relative to its dataset folder: its audio
    (and versions), sheet, a plugin modality's files, a whole song's pages."""
    files: list[Any] = [row.get(AUDIO), row.get(SHEET), *(row.get("audio_versions") or [])]
    files += list((row.get("files") or {}).values()) + list(row.get("pages") or [])
    return [f for f in files if isinstance(f, str) and f]


def dataset_passages(root: Path) -> dict[str, tuple[str, ...]]:
    """Each file of the dataset's manifest -> the files of its passage (its recording, score,
    versions): what a query's own passage holds in the other modalities."""
    manifest = Path(root) / MANIFEST
    out: dict[str, tuple[str, ...]] = {}
    if manifest.is_file():
        for _where, row in json_rows(manifest):
            files = tuple(row_files(row))
            out.update(dict.fromkeys(files, files))
    return out


def row_pieces(sources: Sequence[str], table: dict[str, str] | None = None) -> np.ndarray:
    """The piece of each stored row, from its `source`: looked up in `table` (`dataset_pieces`;
    a source embedded from several roots starts with its root's name, which is tried without),
    else the name of the folder holding the file (the file's stem when it has none)."""
    out = np.empty(len(sources), dtype=object)
    for i, source in enumerate(sources):
        s = str(source)
        piece = None
        if table is not None:
            piece = table.get(s)
            if piece is None and "/" in s:
                piece = table.get(s.split("/", 1)[1])
        if piece is None:
            parts = s.split("#", 1)[0].split("/")
            piece = parts[-2] if len(parts) > 1 else Path(parts[-1]).stem
        out[i] = piece
    return out


def rank_pieces(
    hits: Sequence[Sequence[Hit]],
    piece_of: dict[str, str],
    aggregate: Aggregate = "votes",
    top: int = 10,
    sizes: Mapping[str, int] | None = None,
) -> list[PieceScore]:
    """Pieces ranked by the hits of a query's vectors (`hits[i]`: vector i's nearest rows, best
    first); `piece_of` maps a hit's row id to its piece, `sizes` a piece to its number of stored
    rows (`piece_sizes`; needed by `votes`)."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"unknown aggregate '{aggregate}' (known: {', '.join(AGGREGATES)})")
    score: dict[str, float] = {}
    votes: dict[str, int] = {}
    best: dict[str, Hit] = {}
    for found in hits:
        seen: set[str] = set()
        for h in found:
            piece = piece_of[h.id]
            votes[piece] = votes.get(piece, 0) + 1
            if piece not in best or h.score > best[piece].score:
                best[piece] = h
            if aggregate != "similarity":
                score[piece] = score.get(piece, 0.0) + 1.0
            elif piece not in seen:  # the best hit of the piece for this vector (hits come best first)
                score[piece] = score.get(piece, 0.0) + h.score
            seen.add(piece)
    n = max(1, len(hits))
    k = max((len(f) for f in hits), default=1) or 1
    scale = 1.0 / (n * k) if aggregate != "similarity" else 1.0 / n
    if aggregate == "votes":
        if sizes is None:
            raise ValueError("the votes aggregate needs each piece's number of rows (sizes)")
        score = {p: v / max(1, sizes.get(p, 1)) for p, v in score.items()}
    order = sorted(score, key=lambda p: (-score[p], -best[p].score, p))[:top]
    return [PieceScore(p, r + 1, score[p] * scale, votes[p], best[p]) for r, p in enumerate(order)]


def identify(
    store: Store,
    vectors: np.ndarray,
    target: str,
    table: dict[str, str] | None = None,
    *,
    k: int = 10,
    aggregate: Aggregate = "votes",
    top: int = 10,
    exact: bool = False,
    notes: list[str] | None = None,
    sizes: Mapping[str, int] | None = None,
    penalty: np.ndarray | None = None,
    orders: Mapping[str, Sequence[Played]] | None = None,
    spans: Sequence[tuple[float, float]] | None = None,
    cuts: Cuts | None = None,
) -> list[PieceScore]:
    """The pieces a query's vectors `(Q, D)` come from, best first, by their `k` nearest rows of
    `target` in `store`; a row's piece is found by `row_pieces` (`table`: `dataset_pieces`).
    `sizes`: `piece_sizes` of the store and target (computed here when not given). `penalty`
    `(N,)`: subtracted from each target row's cosine (`hubness.penalty`; exact search then).
    `orders`: each piece's versions as played (`piece_orders`), which `sequence` and `timeline`
    need; `spans`: each vector's window (seconds from the query's start), which `timeline` needs;
    `cuts`: the recording cut at any span, which `timeline` reads beside its windows
    (`ugaar_kit.retrieval.locate.cut_fit`)."""
    if aggregate in ORDERED and orders is None:
        raise ValueError(f"the {aggregate} aggregate needs each piece's rows in order (piece_orders of a dataset)")
    if aggregate == "timeline" and (spans is None or len(spans) != len(vectors)):
        raise ValueError("the timeline aggregate needs each vector's window (spans): a recording's")
    voting: Aggregate = "votes" if aggregate in ORDERED else aggregate
    if voting == "votes" and sizes is None:
        sizes = piece_sizes(store, target, table)
    q = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    penalties = {target: penalty} if penalty is not None else None
    found = [r[target] for r in search_many(store, q, [target], k, exact=exact, notes=notes, penalties=penalties)]
    hits = {h.id: h.source for f in found for h in f}
    piece_of = dict(zip(hits, row_pieces(list(hits.values()), table).tolist()))
    if aggregate not in ORDERED or orders is None:
        return rank_pieces(found, piece_of, voting, top, sizes)
    ranked = rank_pieces(found, piece_of, voting, max(top, SHORTLIST), sizes)
    if aggregate == "timeline" and spans is not None:
        return by_timeline(ranked, q, spans, store, target, orders, penalty, cuts=cuts)[:top]
    return by_sequence(ranked, q, store, target, orders, penalty, stretch=target == AUDIO)[:top]


def _reranked(ranked: Sequence[PieceScore], shortlist: int, score: Mapping[str, float]) -> list[PieceScore]:
    """`ranked` with its first `shortlist` pieces re-ranked by `score` (higher first; a piece
    without one keeps its place after them) and given it; the rest follow in their order."""
    head = sorted(ranked[:shortlist], key=lambda p: (-score.get(p.piece, -np.inf), p.rank))
    out = [dataclasses.replace(p, rank=i + 1, score=score.get(p.piece, p.score)) for i, p in enumerate(head)]
    return out + [dataclasses.replace(p, rank=len(out) + i + 1) for i, p in enumerate(ranked[shortlist:])]


def _best_version(
    head: Sequence[PieceScore],
    orders: Mapping[str, Sequence[Played]],
    measure: Callable[[PieceScore, Played], float | None],
) -> dict[str, float]:
    """Each piece of `head` -> the highest `measure` over its versions as played (a piece with
    none, or none measured: None, is left out)."""
    out: dict[str, float] = {}
    for p in head:
        for version in orders.get(p.piece, []):
            if (m := measure(p, version)) is not None:
                out[p.piece] = max(out.get(p.piece, -np.inf), m)
    return out


def _vote_share(head: Sequence[PieceScore]) -> Callable[[PieceScore], float]:
    """A piece's votes as a share of the most any piece of `head` (a shortlist) has."""
    most = max((p.score for p in head), default=0.0) or 1.0
    return lambda p: p.score / most


def _scorer(
    store: Store, target: str, rows: np.ndarray, penalty: np.ndarray | None
) -> Callable[[np.ndarray], np.ndarray]:
    """Scores of unit rows against `rows` of `target` (read once): cosines, less each row's penalty."""
    unit = store.unit_rows(target, rows)
    less = penalty[rows][None, :] if penalty is not None else 0.0

    def score(q: np.ndarray) -> np.ndarray:
        return q @ unit.T - less

    return score


def by_sequence(
    ranked: Sequence[PieceScore],
    vectors: np.ndarray,
    store: Store,
    target: str,
    orders: Mapping[str, Sequence[Played]],
    penalty: np.ndarray | None = None,
    shortlist: int = SHORTLIST,
    *,
    stretch: bool = False,
) -> list[PieceScore]:
    """`ranked` with its first `shortlist` pieces re-ranked by `sequence_cost` of the query's
    `vectors` (in order) against each piece's rows in order (its best version); their score
    becomes the alignment's mean score (1 - cost). The rest follow in their order. With
    `stretch` the query is a stretch of its piece (a page against recordings): only versions of
    at least as many rows are aligned, and `PAGE_VOTES` times the piece's share of the
    shortlist's most votes is added."""
    from ugaar_kit.retrieval.locate import sequence_cost

    q = normalize_rows(vectors)
    head = ranked[:shortlist]
    share = _vote_share(head)

    def measure(p: PieceScore, v: Played) -> float | None:
        if stretch and len(v.rows) < len(q):
            return None
        fit = 1.0 - sequence_cost(_scorer(store, target, v.rows, penalty)(q))
        return fit + (PAGE_VOTES * share(p) if stretch else 0.0)

    return _reranked(ranked, shortlist, _best_version(head, orders, measure))


def by_timeline(
    ranked: Sequence[PieceScore],
    vectors: np.ndarray,
    spans: Sequence[tuple[float, float]],
    store: Store,
    target: str,
    orders: Mapping[str, Sequence[Played]],
    penalty: np.ndarray | None = None,
    shortlist: int = SHORTLIST,
    cuts: Cuts | None = None,
) -> list[PieceScore]:
    """`ranked` (by votes) with its first `shortlist` pieces re-ranked by how well the query's
    windows at `spans` fit each piece's passages laid on the score's timing
    (`ugaar_kit.retrieval.locate.timeline_fit`: the best offset, the windows' scores weighted by
    the passages they cover; its best version), plus `TIMELINE_VOTES` times the piece's share of
    the shortlist's most votes. Their score becomes that sum. With `cuts` the fit also reads the
    query cut at each row's span (`cuts_extra`), scored as the windows are."""
    from ugaar_kit.retrieval.locate import cuts_extra, timeline_fit

    q = normalize_rows(vectors)
    head = ranked[:shortlist]
    share = _vote_share(head)

    def fit(p: PieceScore, v: Played) -> float:
        score = _scorer(store, target, v.rows, penalty)  # the rows read once for the windows and the cuts
        extra = cuts_extra(cuts, score, spans, v.starts, v.ends) if cuts is not None else None
        laid = timeline_fit(score(q), spans, v.starts, v.ends, extra=extra)[0]
        return laid + TIMELINE_VOTES * share(p)

    return _reranked(ranked, shortlist, _best_version(head, orders, fit))


def recording_orders(store: Store, table: dict[str, str] | None = None) -> dict[str, list[Played]]:
    """Each piece -> its stored recordings as played: the store's audio rows of each file
    embedded in windows (rows with times), in time order, a file a version (`row_pieces`
    finds its piece). Needs no dataset folder: a library's store of recordings has them."""
    from ugaar_kit.retrieval.played import Played

    if AUDIO not in store.modalities or store.rows(AUDIO) == 0:
        return {}
    meta = store.metadata(AUDIO)
    starts, ends = np.asarray(meta["start"], np.float64), np.asarray(meta["end"], np.float64)
    files: dict[str, list[int]] = {}
    for i in np.flatnonzero(np.isfinite(starts) & np.isfinite(ends)).tolist():
        files.setdefault(str(meta["source"][i]), []).append(i)
    out: dict[str, list[Played]] = {}
    for rows, piece in zip(files.values(), row_pieces(list(files), table).tolist()):
        ordered = np.asarray(sorted(rows, key=lambda r: starts[r]), dtype=np.int64)
        out.setdefault(str(piece), []).append(Played(ordered, starts[ordered], ends[ordered]))
    return out


def piece_sizes(store: Store, target: str, table: dict[str, str] | None = None) -> Counter[str]:
    """Each piece's number of stored rows of `target` (a pass over the store's sources)."""
    return Counter(row_pieces(store.sources(target).tolist(), table).tolist())


def chosen_aggregate(
    aggregate: str, modality: str, vectors: int, ordered: bool, timed: bool = False, target: str | None = None
) -> Aggregate:
    """`aggregate`, with `auto` resolved, for a query of `vectors` vectors matched against
    `target`: when each piece's rows are known in order (`ordered`), a recording (an audio
    query) of at least `SEQUENCE_MIN` windows by `sequence`, a shorter one whose windows' times
    are known (`timed`) by `timeline`, a page (a sheet query) against recordings by `sequence`;
    anything else by `votes`."""
    if aggregate != "auto":
        return aggregate  # type: ignore[return-value]
    if ordered and modality == AUDIO:
        if vectors >= SEQUENCE_MIN:
            return "sequence"
        if timed:
            return "timeline"
    if ordered and modality == SHEET and target == AUDIO:
        return "sequence"
    return "votes"
