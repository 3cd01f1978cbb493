"""What `locate` spends on an excerpt: cut at each page window's span, pages read anew (issue 21; speed).

    .venv/bin/python benchmarks/locate_speed.py benchmarks/results/pieces/runs/contrastive-pwa-s0

Takes the first `--songs` test songs of the run's `--whole-songs` dataset and the excerpts
`eval --task locate` draws from them (5 a song, 10 s, seed 0), and locates each in its song's
score three ways, in turns (the order rotates): in the stored page windows by its fixed windows
alone; by its windows and its cuts at each page window's span
(`inference.embedding.cuts.query_cuts`); and by both in the song's pages read anew in `locate`'s
narrower windows (`inference.embedding.score.ScorePages`, a fresh one an excerpt, as one
`ugaar-kit locate` command reads them), as `locate` does. Each time includes embedding the
excerpt's windows (and cuts, and pages). Prints the mean seconds an excerpt of each, measured
in one process on a quiet machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from locate_ceiling import add_run_arguments, kept_run, plan
from records import PYTHON, machine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(ap)
    ap.add_argument("--songs", type=int, default=8)
    args = ap.parse_args()
    run, data, store = kept_run(args)
    from ugaar_kit.data.media import write_excerpt
    from ugaar_kit.inference.embedding import embed_queries, gather_queries
    from ugaar_kit.inference.embedding.cuts import query_cuts
    from ugaar_kit.inference.embedding.score import ScorePages
    from ugaar_kit.interfaces.dataset import read_songs
    from ugaar_kit.interfaces.modality import AUDIO, SHEET
    from ugaar_kit.retrieval.locate import locate
    from ugaar_kit.retrieval.played import PieceRows

    window, hop = store.settings.get("window"), store.settings.get("hop")
    rows = PieceRows(store, SHEET, data)
    chosen = [s for s in read_songs(data) if s.split == "test"][: args.songs]
    ways = ("windows", "windows and cuts", "pages read anew")
    spent = dict.fromkeys(ways, 0.0)
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for k, (song, starts) in enumerate(plan(chosen)):
            for j, start in enumerate(starts):
                path = write_excerpt(song.audio, start, 10.0, Path(tmp) / f"{k}-{j}.wav")
                for way in ways[n % 3 :] + ways[: n % 3]:
                    began = time.perf_counter()
                    found = embed_queries(run, gather_queries(run, [path])[0], window=window, hop=hop)
                    kept = [e for e in found if e.vector is not None]
                    spans = [(float(e.start), float(e.end)) for e in kept]
                    cuts = query_cuts(run, path, AUDIO, 10.0) if way != ways[0] else None
                    pages = ScorePages(run) if way == ways[2] else None
                    vectors = np.stack([e.vector for e in kept])
                    locate(
                        store,
                        vectors,
                        song.song_id,
                        data,
                        SHEET,
                        songs=[song],
                        spans=spans,
                        rows=rows,
                        cuts=cuts,
                        pages=pages,
                    )
                    spent[way] += time.perf_counter() - began
                n += 1
    m = machine()
    print(f"{n} excerpts of 10 s, {len(chosen)} test songs of {data.name}, run {args.run.name}:")
    for way in ways:
        print(f"  {way:<18} {spent[way] / n:.3f} s an excerpt")
    print(f"({PYTHON} benchmarks/locate_speed.py {args.run}; {m['nproc']} cores, {m['cpu']})")


if __name__ == "__main__":
    main()
