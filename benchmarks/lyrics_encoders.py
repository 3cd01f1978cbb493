"""Size and speed of the lyrics encoders `doc2vec` and `transformer` on one CPU thread.

    .venv/bin/python benchmarks/lyrics_encoders.py                  # 10,000 lines, batch 32
    .venv/bin/python benchmarks/lyrics_encoders.py --lines 2000 --model PATH

Lines come from the LMD lyrics-melody sample when a registered score source can read it
(`--source lmd`), else from a synthetic Zipf-distributed syllable text of LMD-like line
lengths (`--source synthetic`; `auto` picks). Prints parameter counts (trainable / total), the
doc2vec fit time, featurize throughput (items/s, one item at a time) and forward throughput
(items/s at `--batch`, eval without gradients, and train forward+backward). Not a test:
timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from ugaar_kit.data.lyrics_text import normalize_lyrics
from ugaar_kit.interfaces.encoder import Encoder

LMD = Path(
    os.environ.get("UGAAR_KIT_LMD", Path(__file__).resolve().parents[2] / "shared" / "data" / "lmd-lyrics-melody")
)


def lmd_lines(limit: int) -> list[str] | None:
    """Normalized lyric lines of the LMD sample through a registered score source, or None."""
    from ugaar_kit.interfaces.dataset import ScoreSource, Skipped
    from ugaar_kit.registry.discovery import get_registry

    folder = LMD / "Sentence_Parsing"
    if not folder.is_dir():
        return None
    sources = [c.cls for c in get_registry().all("dataset") if "lmd" in c.name and issubclass(c.cls, ScoreSource)]
    if not sources:
        return None
    lines: list[str] = []
    for song in sources[0]().songs([folder]):
        if isinstance(song, Skipped):
            continue
        lines += [normalize_lyrics(p.lyrics) for p in song.passages]
        if len(lines) >= limit:
            break
    return [x for x in lines if x][:limit]


def synthetic_lines(n: int, seed: int = 0) -> list[str]:
    """`n` lines of 2-10 syllables (median 6, as in LMD) drawn Zipf-wise from 1,224 made-up syllables."""
    rng = np.random.default_rng(seed)
    onsets = ["", "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "w", "st", "br"]
    vowels = ["a", "e", "i", "o", "u", "ay", "ee", "oo"]
    codas = ["", "n", "t", "s", "l", "r", "nd", "ng", "ck"]
    inventory = sorted({o + v + c for o in onsets for v in vowels for c in codas})
    weights = 1.0 / np.arange(1, len(inventory) + 1)
    weights /= weights.sum()
    lengths = np.clip(rng.normal(6, 2, n).round(), 2, 10).astype(int)
    return [" ".join(rng.choice(inventory, size=k, p=weights)) for k in lengths]


def rate(fn: Callable[[], int], min_seconds: float = 2.0) -> float:
    """Items per second of `fn` (which returns how many items it handled), after one warm-up."""
    fn()
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds:
        done += fn()
    return done / elapsed


def measure(label: str, enc: Encoder, lines: Sequence[str], batch: int, fit_seconds: float | None) -> list[str]:
    total = sum(p.numel() for p in enc.parameters())
    trainable = sum(p.numel() for p in enc.trainable_parameters())
    sample = list(lines[:512])
    feats = [enc.featurize(x) for x in sample]
    pos = [0]

    def featurize() -> int:
        i = pos[0] = (pos[0] + 64) % len(sample)
        for x in sample[i : i + 64]:
            enc.featurize(x)
        return len(sample[i : i + 64])

    batches = [enc.collate(feats[i : i + batch]) for i in range(0, len(feats) - batch + 1, batch)]

    def forward_eval() -> int:
        enc.eval()
        with torch.no_grad():
            for b in batches[:4]:
                enc(b)
        return 4 * batch

    def forward_backward() -> int:
        enc.train()
        for b in batches[:4]:
            enc.zero_grad(set_to_none=True)
            enc(b).pow(2).mean().backward()
        return 4 * batch

    return [
        label,
        f"{trainable:,}",
        f"{total:,}",
        "-" if fit_seconds is None else f"{fit_seconds:.1f}",
        f"{rate(featurize):,.0f}",
        f"{rate(forward_eval):,.0f}",
        f"{rate(forward_backward):,.0f}",
    ]


HEADER = ("encoder", "trainable", "total", "fit s", "featurize /s", "forward /s", "fwd+bwd /s")


def measure_all(
    n_lines: int = 10_000, batch: int = 32, threads: int = 1, source: str = "auto", model: Path | None = None
) -> tuple[str, list[list[str]]]:
    """`(description of the lines, rows under HEADER)`: what `main` prints (speed.py folds it in)."""
    torch.set_num_threads(threads)
    lines = lmd_lines(n_lines) if source in ("auto", "lmd") else None
    described = "LMD sample"
    if lines is None:
        if source == "lmd":
            raise SystemExit(f"no registered score source reads the LMD sample at {LMD}")
        lines, described = synthetic_lines(n_lines), "synthetic Zipf syllables"
    described = (
        f"{len(lines):,} lines ({described}), median {int(np.median([len(x.split()) for x in lines]))} syllables"
    )

    from ugaar_kit_plugins.lyrics_doc2vec.encoder import Doc2VecLyrics
    from ugaar_kit_plugins.lyrics_transformer.encoder import TransformerLyrics

    rows = []
    d2v = Doc2VecLyrics()
    start = time.perf_counter()
    d2v.fit(lines)
    fit_seconds = time.perf_counter() - start
    rows.append(measure("doc2vec (defaults)", d2v, lines, batch, fit_seconds))
    values = {} if model is None else {"model": str(model)}
    for label, extra in [
        ("transformer mean+count, frozen", {}),
        ("transformer mean+count, fine-tuned", {"freeze": False}),
    ]:
        enc = TransformerLyrics.from_options({**values, **extra})
        rows.append(measure(label, enc, lines, batch, None))
    return described, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000, help="lines to fit doc2vec on")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--source", choices=["auto", "lmd", "synthetic"], default="auto")
    parser.add_argument("--model", type=Path, default=None, help="transformers folder (default: shipped MiniLM)")
    args = parser.parse_args()
    console = Console(width=120)
    described, rows = measure_all(args.lines, args.batch, args.threads, args.source, args.model)
    console.print(described)
    table = Table(title=f"lyrics encoders, {args.threads} thread(s), batch {args.batch}")
    for col in HEADER:
        table.add_column(col, justify="left" if col == "encoder" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
