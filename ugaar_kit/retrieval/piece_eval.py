"""Evaluating piece identification and passage localisation on a `--whole-songs` dataset.

    result = evaluate_pieces("runs/contrastive-1", "data/lmd-200", tasks=("identify", "locate"))
    result["identify"]["excerpt"]["top1"], result["locate"]["passage"]

Every passage file of the dataset and every whole song (its score pages, embedded as the
windows along their systems, and its recording, in windows) is embedded into a store, every
split's (the other songs are the distractors); then, for each song of the split
(`songs.jsonl`), cross-modal only:

- **recording**: its whole recording, windowed as `embed` cuts, against the scores (pages and
  passage snippets);
- **excerpt**: `excerpts` windows of `excerpt_seconds` at seeded random offsets of the recording
  (not aligned to passage starts), against the scores;
- **page**: each page of its score (systems found, windows along them), against the
  recordings (whole and passages);
- **lyrics** (a run with a text modality): its lyrics lines, against the recordings;

each ranked into pieces by `ugaar_kit.retrieval.identify` (top-1, top-5, MRR of the song's own
piece among all the dataset's pieces); and each excerpt is located in its song's score
(`ugaar_kit.retrieval.locate`): right when the passage found holds the excerpt's midpoint, and
"within one system" when it is printed on that passage's system or the next or previous one;
`passage_or_same_music` also counts a passage with the very notes of the right one (a verse
sung twice to one melody: audio and sheet are the same music, only the lyrics differ).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ugaar_kit.data.media import write_excerpt
from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.inference.embedding import EmbedSettings, embed_paths, embed_queries, gather_queries
from ugaar_kit.inference.embedding.cuts import query_cuts
from ugaar_kit.inference.embedding.query import Query, page_windows
from ugaar_kit.inference.embedding.score import ScorePages
from ugaar_kit.inference.run import Run
from ugaar_kit.interfaces.dataset import DatasetFolder, WholeSong, read_songs
from ugaar_kit.interfaces.modality import AUDIO, LYRICS, SHEET
from ugaar_kit.registry.components import Registry
from ugaar_kit.retrieval.hubness import applies, penalty
from ugaar_kit.retrieval.identify import chosen_aggregate, dataset_pieces, identify, piece_sizes, recording_orders
from ugaar_kit.retrieval.locate import Cuts, locate
from ugaar_kit.retrieval.played import PieceRows, piece_orders
from ugaar_kit.store.reader import Store

TASKS = ("identify", "locate")
QUERY_KINDS = ("recording", "excerpt", "page", LYRICS)

Say = Callable[[str], None]


def _scores(ranks: Sequence[int]) -> dict[str, float | int]:
    r = np.asarray(ranks, dtype=np.float64)
    if r.size == 0:
        return {"top1": 0.0, "top5": 0.0, "MRR": 0.0, "queries": 0}
    return {
        "top1": float((r <= 1).mean()),
        "top5": float((r <= 5).mean()),
        "MRR": float((1.0 / r).mean()),
        "queries": int(r.size),
    }


def _rank(ranked: Sequence[Any], piece: str, pieces: int) -> int:
    """The 1-based rank of `piece` (last of all `pieces` when no hit voted for it)."""
    return next((p.rank for p in ranked if p.piece == piece), pieces)


def _music(notes: Any) -> tuple[tuple[int, float, float], ...] | None:
    """A passage's melody as its manifest gives it (pitch, onset from its first note, duration),
    rounded: equal for two passages whose audio and sheet are the same music."""
    if not notes:
        return None
    origin = float(notes[0][1])
    return tuple((int(p), round(float(on) - origin, 3), round(float(d), 3)) for p, on, d in notes)


def _spans(embedded: Sequence[Any]) -> list[tuple[float, float]]:
    """Each embedded window's span (seconds from its recording's start)."""
    return [(float(e.start or 0.0), float(e.end or 0.0)) for e in embedded]


def _global_system(song: WholeSong, page: int | None, system: int | None) -> int | None:
    if page is None or system is None:
        return None
    return sum(len(s) for s in song.systems[: page - 1]) + system


def evaluate_pieces(
    run: Run | str | Path,
    data_dir: str | Path,
    *,
    tasks: Sequence[str] = TASKS,
    split: str = "test",
    excerpts: int = 5,
    excerpt_seconds: float = 10.0,
    seed: int = 0,
    k: int = 10,
    aggregate: str = "auto",
    hubness: bool = True,
    store: str | Path | None = None,
    registry: Registry | None = None,
    say: Say | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Piece identification and localisation figures of `run` on `split` of the dataset folder
    `data_dir` (see the module doc): `{"identify": {kind: {"top1", "top5", "MRR", "queries",
    "pieces"} or None}, "locate": {"passage", "system", "queries"}, ...}`. `store`: where the
    dataset's embeddings are kept (resumed when it exists); default a temporary file.
    `aggregate`: how hits become pieces (`ugaar_kit.retrieval.identify`; `auto`: `sequence` for
    whole recordings and for pages against the recordings, `timeline` for excerpts, `votes`
    for lyrics); `hubness`: hits scored by their cosine corrected for hubness
    (`ugaar_kit.retrieval.hubness`)."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise OptionError(f"unknown task '{(unknown or [''])[0]}' (known: {', '.join(TASKS)})")
    if excerpts < 1 or excerpt_seconds <= 0:
        raise OptionError("excerpts must be at least 1 and excerpt seconds positive")
    say = say or (lambda _m: None)
    root = Path(data_dir)
    songs = read_songs(root)
    chosen = [s for s in songs if s.split == split]
    if not chosen:
        raise InputError(root, f"no whole song in the {split} split")
    loaded = run if isinstance(run, Run) else Run.load(run, registry=registry)
    for m in (AUDIO, SHEET):
        if m not in loaded.encoders:
            raise OptionError(
                f"identification needs a run with audio and sheet encoders (it has: {', '.join(loaded.modalities)})"
            )
    table = dataset_pieces(root)
    n_pieces = len({s.song for s in songs})
    with tempfile.TemporaryDirectory(prefix="ugaar-pieces-") as tmp:
        store_path = Path(store) if store is not None else Path(tmp) / "dataset.h5"
        # the passages, and each whole song as a library holds it: its score pages (embedded as
        # the windows along their systems) and its recording (in windows)
        inputs = [root / m for m in (SHEET, AUDIO, "songs") if (root / m).is_dir()]
        say(f"embedding the dataset's passages and whole songs ({', '.join(p.name for p in inputs)}) into {store_path}")
        embed_paths(loaded, inputs, store_path, EmbedSettings(), on_progress=on_progress)
        rng = np.random.default_rng(seed)
        plan = [
            (song, [float(rng.uniform(0.0, max(0.0, song.duration - excerpt_seconds))) for _ in range(excerpts)])
            for song in chosen
        ]
        ranks: dict[str, list[int]] = {kind: [] for kind in QUERY_KINDS}
        used: set[str] = set()
        located: list[tuple[bool, bool, bool]] = []
        lyrics_modality = next((m for m in loaded.modalities if getattr(loaded.encoders[m], "text_input", False)), None)
        items = {it.id: it for it in DatasetFolder(root).items}
        music = {i: _music(it.meta.get("notes")) for i, it in items.items()}
        with Store(store_path) as st:
            window, hop = st.settings.get("window"), st.settings.get("hop")

            def vectors(embedded: Sequence[Any]) -> np.ndarray:
                return np.stack([e.vector for e in embedded if e.vector is not None])

            sizes = {m: piece_sizes(st, m, table) for m in (AUDIO, SHEET)}
            sheet_rows = PieceRows(st, SHEET, root)  # read once: the manifest and the store's sources
            score_pages = ScorePages(loaded)  # a song's pages read in locate's windows once for its excerpts
            orders = {
                SHEET: piece_orders(st, SHEET, root, rows=sheet_rows),
                AUDIO: recording_orders(st, table) if "identify" in tasks else {},  # pages' only
            }
            penalties: dict[tuple[str, str], np.ndarray | None] = {}  # (target, query modality)

            def corrected(target: str, modality: str) -> np.ndarray | None:
                if not hubness:
                    return None
                if (target, modality) not in penalties:  # whether it applies read once too
                    penalties[target, modality] = penalty(st, target, modality) if applies(modality, st) else None
                return penalties[target, modality]

            def rank(
                v: np.ndarray,
                target: str,
                piece: str,
                modality: str,
                spans: list[tuple[float, float]] | None = None,
                cuts: Cuts | None = None,
            ) -> int:
                chosen = chosen_aggregate(aggregate, modality, len(v), bool(orders[target]), spans is not None, target)
                ranked = identify(
                    st,
                    v,
                    target,
                    table,
                    k=k,
                    aggregate=chosen,
                    top=n_pieces,
                    sizes=sizes[target],
                    penalty=corrected(target, modality),
                    orders=orders[target] or None,
                    spans=spans,
                    cuts=cuts,
                )
                used.add(chosen)
                return _rank(ranked, piece, n_pieces)

            for n, (song, starts) in enumerate(plan, 1):
                say(f"song {n} of {len(plan)}: {song.song_id}")
                if "identify" in tasks:
                    q = gather_queries(loaded, [song.audio])[0]
                    windows = [e for e in embed_queries(loaded, q, window=window, hop=hop) if e.vector is not None]
                    ranks["recording"].append(rank(vectors(windows), SHEET, song.song, AUDIO, _spans(windows)))
                    for page in song.pages:
                        ranks["page"].append(rank(vectors(page_windows(loaded, page)), AUDIO, song.song, SHEET))
                    if lyrics_modality is not None:
                        lines = [
                            str(items[p["id"]].inputs.get(lyrics_modality) or "")
                            for p in song.passages
                            if p["id"] in items
                        ]
                        qs = [Query(t, lyrics_modality, text=t) for t in lines if t.strip()]
                        got = [e for e in embed_queries(loaded, qs) if e.vector is not None]
                        if got:
                            ranks[LYRICS].append(rank(vectors(got), AUDIO, song.song, lyrics_modality))
                for j, start in enumerate(starts):
                    path = write_excerpt(song.audio, start, excerpt_seconds, Path(tmp) / f"excerpt-{n}-{j}.wav")
                    windows = [
                        e
                        for e in embed_queries(loaded, gather_queries(loaded, [path])[0], window=window, hop=hop)
                        if e.vector is not None
                    ]
                    v = vectors(windows)
                    spans = _spans(windows)
                    cuts = query_cuts(loaded, path, AUDIO, excerpt_seconds)
                    if "identify" in tasks:
                        ranks["excerpt"].append(rank(v, SHEET, song.song, AUDIO, spans, cuts))
                    if "locate" in tasks:
                        truth = song.passages[song.passage_at(start + excerpt_seconds / 2)]
                        found = locate(
                            st,
                            v,
                            song.song_id,
                            root,
                            SHEET,
                            songs=[song],
                            spans=spans,
                            rows=sheet_rows,
                            cuts=cuts,
                            pages=score_pages,
                        )
                        same = found.song_id == song.song_id
                        g_found = _global_system(song, found.page, found.system) if same else None
                        g_true = _global_system(song, truth.get("page"), truth.get("system"))
                        near = g_found is not None and g_true is not None and abs(g_found - g_true) <= 1
                        right = same and found.passage == truth["id"]
                        alike = right or (same and music.get(found.passage) == music.get(truth["id"]) is not None)
                        located.append((right, near, alike))
    out: dict[str, Any] = {
        "run": loaded.run_id,
        "split": split,
        "songs": len(chosen),
        "pieces": n_pieces,
        "settings": {
            "excerpts": excerpts,
            "excerpt_seconds": excerpt_seconds,
            "seed": seed,
            "k": k,
            "aggregate": aggregate,
            "aggregates_used": sorted(used),
            "hubness": hubness,
        },
    }
    if "identify" in tasks:
        out["identify"] = {
            kind: ({**_scores(ranks[kind]), "pieces": n_pieces} if ranks[kind] else None) for kind in QUERY_KINDS
        }
    if "locate" in tasks:
        out["locate"] = {
            "passage": float(np.mean([a for a, _, _ in located])) if located else 0.0,
            "system": float(np.mean([b for _, b, _ in located])) if located else 0.0,
            "passage_or_same_music": float(np.mean([c for _, _, c in located])) if located else 0.0,
            "queries": len(located),
        }
    return out
