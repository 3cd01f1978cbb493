"""How far can a 10-s excerpt be placed by its notes alone? (issue 21, a diagnostic)

    .venv/bin/python benchmarks/locate_ceiling.py            # the test songs of lmd-200w-pwa
    .venv/bin/python benchmarks/locate_ceiling.py --split valid

`eval --task locate` draws 5 excerpts of 10 s a song at seeded offsets and asks for the passage
sounding at each one's midpoint. This draws the same excerpts (seed 0) and places them from the
songs' notes (`manifest.jsonl`'s `notes`, laid on `songs.jsonl`'s times), with no model:

- `repeats`: an excerpt whose notes (pitch, onset within 30 ms, duration) recur exactly at
  another offset of its song cannot be told from that repeat by any model of its sound or its
  score; placed at one of the offsets where its notes match, chosen uniformly, it is right with
  the share of those offsets whose midpoint is in the right passage. The ceiling of any placing.
- `windows`: a model that knew the notes in each of the query's windows (3.5 s every 1.75 s, as
  the default run cuts) and scored each passage by the longest run of identical notes (pitch,
  duration within 10%) the two share, as a share of the window's notes, laid on the score's
  timing as `locate` lays windows on passages (`ugaar_kit.retrieval.locate.timeline`). What
  matching each window apart, then laying them out, keeps of perfect hearing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from records import DATA, PYTHON, machine

Note = tuple[float, int, float]  # (onset in the song, pitch, duration), seconds


def plan(songs: list[Any], excerpts: int = 5, seconds: float = 10.0) -> list[tuple[Any, list[float]]]:
    """The excerpts `evaluate_pieces` draws (seed 0): each song's offsets, in its order."""
    rng = np.random.default_rng(0)
    return [(s, [float(rng.uniform(0.0, max(0.0, s.duration - seconds))) for _ in range(excerpts)]) for s in songs]


def add_run_arguments(ap: argparse.ArgumentParser) -> None:
    """The arguments of a diagnostic of one trained run: the run, its dataset, its kept store."""
    ap.add_argument("run", type=Path)
    ap.add_argument("--data", type=Path, default=None, help="its --whole-songs dataset (default: the run's)")
    ap.add_argument("--store", type=Path, default=None, help="default: <run>-pieces.h5 beside the run")


def add_split_arguments(ap: argparse.ArgumentParser) -> None:
    """The songs a diagnostic draws its excerpts from: a split, and optionally its first N."""
    ap.add_argument("--split", default="test")
    ap.add_argument(
        "--songs", type=int, default=None, help="the split's first N songs only (e.g. of the training songs)"
    )


def split_songs(songs: list[Any], args: argparse.Namespace) -> tuple[list[Any], str]:
    """`add_split_arguments`' songs of `songs` (in their order), and those arguments as typed."""
    chosen = [s for s in songs if s.split == args.split][: args.songs]
    return chosen, f"--split {args.split}" + (f" --songs {args.songs}" if args.songs else "")


def kept_run(args: argparse.Namespace) -> tuple[Any, Path, Any]:
    """(the loaded run, its dataset folder, the store `benchmarks/pieces.py` kept beside it) of
    `add_run_arguments`' arguments."""
    import tomllib

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ugaar_kit.inference.run import Run
    from ugaar_kit.store.reader import Store

    run = Run.load(args.run)
    data = args.data or Path(tomllib.loads((args.run / "config.toml").read_text(encoding="utf-8"))["data"])
    return run, data, Store(args.store or args.run.parent / f"{args.run.name}-pieces.h5")


def manifest_rows(data: Path) -> dict[str, Any]:
    """The dataset folder's manifest rows by id."""
    rows = (json.loads(line) for line in (data / "manifest.jsonl").read_text(encoding="utf-8").splitlines())
    return {row["id"]: row for row in rows}


def song_notes(song: Any, rows: dict[str, Any]) -> list[Note]:
    """Each note of the song in its recording: a passage's notes (manifest, seconds from its first
    note) stretched onto the passage's span in the recording (songs.jsonl), for a build may time
    the whole song at another tempo than its passages (13 of the first 200 LMD songs)."""
    out: list[Note] = []
    for p in song.passages:
        notes = (rows.get(p["id"]) or {}).get("notes") or []
        if not notes:
            continue
        scale = (float(p["end"]) - float(p["start"])) / (max(float(n[1]) + float(n[2]) for n in notes) or 1.0)
        out += [(float(p["start"]) + float(n[1]) * scale, int(n[0]), float(n[2]) * scale) for n in notes]
    return sorted(out)


def by_repeats(song: Any, notes: list[Note], start: float, seconds: float = 10.0) -> float:
    """The chance of the right passage when placed at an offset where the excerpt's notes recur."""
    onsets = np.array([n[0] for n in notes])

    def heard(o: float) -> list[tuple[float, int, float]]:
        i, j = np.searchsorted(onsets, o - 1e-6), np.searchsorted(onsets, o + seconds - 1e-6)
        return [(notes[k][0] - o, notes[k][1], notes[k][2]) for k in range(i, j)]

    mine = heard(start)
    if not mine:
        return 0.0
    same = [
        o
        for o in onsets - mine[0][0]
        if -1e-6 <= o <= song.duration
        and len(other := heard(o)) == len(mine)
        and all(a[1] == b[1] and abs(a[0] - b[0]) <= 0.03 and abs(a[2] - b[2]) <= 0.03 for a, b in zip(mine, other))
    ]
    truth = song.passage_at(start + seconds / 2)
    return float(np.mean([song.passage_at(o + seconds / 2) == truth for o in same])) if same else 0.0


def longest_run(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> int:
    """The longest run of notes `a` and `b` share, in order: the same pitch, durations within 10%."""
    best = 0
    for i in range(len(a)):
        for j in range(len(b)):
            k = 0
            while (
                i + k < len(a)
                and j + k < len(b)
                and a[i + k][0] == b[j + k][0]
                and abs(a[i + k][1] - b[j + k][1]) <= 0.1 * a[i + k][1] + 0.02
            ):
                k += 1
            best = max(best, k)
    return best


def by_windows(song: Any, rows: dict[str, Any], notes: list[Note], start: float, seconds: float = 10.0) -> bool:
    """Placed by the notes heard in each window, each window matched to the passages apart."""
    from ugaar_kit.interfaces.rows import cut_windows
    from ugaar_kit.retrieval.locate import timeline

    rate = 1000
    passages = [p for p in song.passages if p["id"] in rows]
    length = min(seconds, song.duration - start)
    spans = [(a / rate, b / rate) for a, b in cut_windows(round(length * rate), rate, 3.5, 1.75)]
    shown = [[(int(n[0]), float(n[2])) for n in rows[p["id"]].get("notes") or []] for p in passages]
    sims = np.zeros((len(spans), len(passages)))
    for q, (a, b) in enumerate(spans):
        heard = [(pitch, d) for t, pitch, d in notes if start + a <= t < start + b]
        for j, passage in enumerate(shown):
            sims[q, j] = longest_run(heard, passage) / len(heard) if heard else 0.0
    # timeline standardises each window's scores and lays them out by cover, as on unit vectors
    unit = np.eye(len(passages))
    starts = np.array([float(p["start"]) for p in passages])
    ends = np.array([float(p["end"]) for p in passages])
    offset, _tempo, _cost = timeline(sims, spans, [(unit, starts, ends)])
    return song.passage_at(offset + max(b for _, b in spans) / 2) == song.passage_at(start + seconds / 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA / "lmd-200w-pwa", help="a --whole-songs dataset folder")
    add_split_arguments(ap)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ugaar_kit.interfaces.dataset import read_songs

    rows = manifest_rows(args.data)
    chosen, typed = split_songs(read_songs(args.data), args)
    repeats, windows = [], []
    for song, starts in plan(chosen):
        notes = song_notes(song, rows)
        for start in starts:
            repeats.append(by_repeats(song, notes, start))
            windows.append(by_windows(song, rows, notes, start))
    print(
        f"{args.split} songs of {args.data.name}, {len(repeats)} excerpts of 10 s: placed by repeats of their notes "
        f"{np.mean(repeats):.3f}; by the notes of each window apart, laid on the timing {np.mean(windows):.3f}"
    )
    m = machine()
    print(f"({PYTHON} benchmarks/locate_ceiling.py {typed}; {m['nproc']} cores, {m['cpu']}, {m['date']})")


if __name__ == "__main__":
    main()
