"""Where a trained run misplaces 10-s excerpts in their song's score (issue 21, a diagnostic).

    .venv/bin/python benchmarks/locate_errors.py benchmarks/results/pieces/runs/contrastive-pwa-s0
    .venv/bin/python benchmarks/locate_errors.py RUN --split valid --data DATA --store STORE
    .venv/bin/python benchmarks/locate_errors.py RUN --split train --songs 30

Takes the excerpts `eval --task locate` draws (5 a song, seed 0), embeds each as `eval` does
(the store's window and hop, and cut at any span), lays it on the song's score as `locate` does
(`ugaar_kit.retrieval.locate.timeline` with the cuts, on the song's pages read anew by
`ScorePages`, else on its stored rows), and reports:

- `right`: the passage at the fitted midpoint is the excerpt's (`eval`'s localisation figure);
- how far the fitted midpoint is from the true one: within 1 s, wrong though within 2 s (a
  near miss: the right place, the wrong side of a passage border), more than 10 s off;
- per query window, whether the score window (of the first reading) nearest its true place
  (centre within 1 s) scores above every score window more than 3 s away: how well one window
  tells its place in its song;
- of the excerpts placed more than 5 s off, the share whose notes there have nearly the same
  pitches in the same order (edit distance of the pitch sequences at most a quarter of their
  length): near-repeats, which only rhythm and detail tell apart; and the share with exactly
  the same pitches in the same order.

The store is the one `benchmarks/pieces.py` keeps beside the run (`<run>-pieces.h5`, every song's
pages and recording). The notes are the manifest's, laid on each passage's span in the song's
recording (`locate_ceiling.song_notes`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from locate_ceiling import (
    add_run_arguments,
    add_split_arguments,
    kept_run,
    manifest_rows,
    plan,
    song_notes,
    split_songs,
)
from records import PYTHON, machine

NEAR_REPEAT = 0.25


def pitches(notes: list[tuple[float, int, float]], start: float, seconds: float = 10.0) -> list[int]:
    return [p for t, p, _ in notes if start <= t < start + seconds]


def edit_share(a: list[int], b: list[int]) -> float:
    """Levenshtein distance of two pitch sequences over the longer one's length (0: the same)."""
    d = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        prev, d[0] = d.copy(), i
        for j in range(1, len(b) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
    return float(d[-1]) / max(1, len(a), len(b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(ap)
    add_split_arguments(ap)
    args = ap.parse_args()
    run, data, store = kept_run(args)
    from ugaar_kit.data.media import write_excerpt
    from ugaar_kit.inference.embedding import embed_queries, gather_queries
    from ugaar_kit.inference.embedding.cuts import query_cuts
    from ugaar_kit.inference.embedding.score import ScorePages
    from ugaar_kit.interfaces.dataset import read_songs
    from ugaar_kit.interfaces.modality import AUDIO, SHEET
    from ugaar_kit.retrieval.locate import timeline
    from ugaar_kit.retrieval.played import PieceRows, score_read
    from ugaar_kit.store.exact import normalize_rows

    window, hop = store.settings.get("window"), store.settings.get("hop")
    rows = manifest_rows(data)
    pieces, reader = PieceRows(store, SHEET, data), ScorePages(run)
    chosen, typed = split_songs(read_songs(data), args)
    right, errors, near_miss, telling, far_alike, far_same = [], [], 0, [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (song, starts) in enumerate(plan(chosen)):
            laid = score_read(song, lambda: pieces, reader)
            if not laid:
                continue
            reference, order = np.asarray(laid[0][0], np.float64), laid[0][1]  # the first reading
            centres = (order.starts + order.ends) / 2
            notes = song_notes(song, rows)
            for j, start in enumerate(starts):
                path = write_excerpt(song.audio, start, 10.0, Path(tmp) / f"e{n}-{j}.wav")
                queried = embed_queries(run, gather_queries(run, [path])[0], window=window, hop=hop)
                windows = [e for e in queried if e.vector is not None]
                q = normalize_rows(np.stack([e.vector for e in windows]).astype(np.float32)).astype(np.float64)
                spans = [(e.start, e.end) for e in windows]
                cuts = query_cuts(run, path, AUDIO, 10.0)
                offset, tempo, _ = timeline(q, spans, [(r, o.starts, o.ends) for r, o in laid], cuts=cuts)
                length = max(b for _, b in spans)
                mid, truth = offset + tempo * length / 2, start + length / 2
                ok = song.passage_at(mid) == song.passage_at(truth)
                right.append(ok)
                errors.append(abs(mid - truth))
                near_miss += int(not ok and abs(mid - truth) < 2.0)
                if abs(mid - truth) > 5.0:
                    mine, there = pitches(notes, start), pitches(notes, offset)
                    far_alike.append(edit_share(mine, there) <= NEAR_REPEAT if mine else False)
                    far_same.append(bool(mine) and mine == there)
                sims = q @ reference.T
                for w, (a, b) in enumerate(spans):
                    d = np.abs(centres - (start + (a + b) / 2))
                    if (d <= 1.0).any() and (d > 3.0).any():
                        telling.append(bool(sims[w, d <= 1.0].max() > sims[w, d > 3.0].max()))
            print(f"\r{n + 1}/{len(chosen)} songs", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    e = np.asarray(errors)
    print(f"{args.run.name}, {args.split} songs of {data.name}: {len(e)} excerpts of 10 s")
    print(f"  placed in the right passage            {np.mean(right):.3f}")
    print(f"  midpoint within 1 s                    {np.mean(e < 1.0):.3f}")
    print(f"  wrong passage, midpoint within 2 s     {near_miss / len(e):.3f}")
    print(f"  midpoint more than 10 s off            {np.mean(e > 10.0):.3f}")
    print(f"  one window tells its place (of {len(telling)})  {np.mean(telling):.3f}")
    alike = f"{np.mean(far_alike):.3f}" if far_alike else "-"
    print(f"  of {len(far_alike)} placed over 5 s off, nearly the same pitches there (near-repeats) {alike}")
    same = f"{np.mean(far_same):.3f}" if far_same else "-"
    print(f"  of {len(far_same)} placed over 5 s off, exactly the same pitches there            {same}")
    m = machine()
    print(f"({PYTHON} benchmarks/locate_errors.py {args.run} {typed}; {m['nproc']} cores, {m['cpu']})")


if __name__ == "__main__":
    main()
