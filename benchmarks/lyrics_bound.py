"""How much a lyric line says about its melody beyond its syllable count, measured with the notes.

The lyrics directions are judged against ranking by syllable count (the count equals the note
count for nine lines in ten here). This asks what more any model could find, giving it what no
encoder gets: the melody's notes from the manifest, a perfect transcription.

1. **Aligned cues**: among lines with as many syllables as notes, syllable i sung on note i. For
   a per-syllable cue (primary stress, word end, long vowel, letters, the last syllable) the
   score of a line and a melody is the covariance of the cue with the notes' log inter-onset
   intervals (a long note on a stressed syllable scores high). AUC: how often the true melody
   scores above a melody of the same note count from another song (0.5: no signal).
2. **A learnt bound**: the `prosody` lyrics encoder against a BiGRU over the true notes (log
   duration and inter-onset interval, rest before, interval from the last pitch, pitch against
   the line's mean, place in the line) and the note count, trained with symmetric InfoNCE (τ 0.07,
   batch 128, AdamW 1e-3) on the training split; the epoch of the best validation MRR is
   reported on the test split beside the syllable-count baseline, on the whole test pool.

    .venv/bin/python benchmarks/lyrics_bound.py [--data benchmarks/results/data/lmd-200] [--epochs 12]
        [--json out.json]

About three minutes on one core of the pinned 200-song build.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from ugaar_kit_plugins.baseline_counts.counts import lyric_syllables, note_count, syllable_count_baseline

from ugaar_kit.interfaces.dataset import DatasetFolder, Item
from ugaar_kit.interfaces.encoder import Batch, pad_last
from ugaar_kit.retrieval import metrics
from ugaar_kit.retrieval.evaluation import group_keys
from ugaar_kit.toolkit.layers import CountEmbedding, MaskedPool, masked_gru

DEFAULT_DATA = Path(__file__).parent / "results" / "data" / "lmd-200"


def note_features(notes: Sequence[Sequence[float]]) -> Tensor:
    """The manifest's `[pitch, onset, duration]` notes -> `(7, n)` float32, one column per note."""
    onsets = [float(n[1]) for n in notes]
    durations = [float(n[2]) for n in notes]
    pitches = [float(n[0]) for n in notes]
    median = sorted(durations)[len(durations) // 2]
    mean_pitch = sum(pitches) / len(pitches)
    cols = []
    for i in range(len(notes)):
        ioi = onsets[i + 1] - onsets[i] if i + 1 < len(notes) else durations[i]
        rest = max(onsets[i] - onsets[i - 1] - durations[i - 1], 0.0) if i else 0.0
        cols.append(
            [
                math.log(durations[i] + 1e-3),
                math.log(ioi + 1e-3),
                math.log((durations[i] + 1e-3) / (median + 1e-3)),
                4 * rest,
                (pitches[i] - pitches[i - 1]) / 12 if i else 0.0,
                (pitches[i] - mean_pitch) / 12,
                i / max(len(notes) - 1, 1),
            ]
        )
    return torch.tensor(cols, dtype=torch.float32).T


def cues(features: Tensor) -> dict[str, Tensor]:
    """Per-syllable cues of a `prosody` feature matrix `(7, n)`."""
    from ugaar_kit_plugins.lyrics_prosody import encoder as prosody
    from ugaar_kit_plugins.lyrics_prosody import words

    n = features.shape[1]
    vowel = features[prosody.VOWEL].long()
    long_ids = {words.VOWELS.index(v) + 1 for v in words.LONG_VOWELS}
    position = features[prosody.POSITION].long()
    return {
        "primary stress": (features[prosody.STRESS] == words.STRESSES.index("primary")).float(),
        "word end": (
            (position == words.POSITIONS.index("single")) | (position == words.POSITIONS.index("last"))
        ).float(),
        "long vowel": torch.tensor([float(int(v) in long_ids) for v in vowel]),
        "letters": features[prosody.LETTERS],
        "last syllable": (torch.arange(n) == n - 1).float(),
    }


def cue_aucs(items: Sequence[Item], features: Sequence[Tensor], seed: int = 0) -> dict[str, float]:
    """AUC of each aligned cue: the true melody against a same-count melody of another song."""
    rows = []
    for item, feats in zip(items, features):
        notes = item.meta.get("notes") or []
        if feats.shape[1] != len(notes) or len(notes) < 3:
            continue
        ioi = note_features(notes)[1]  # log inter-onset intervals
        rows.append((len(notes), (ioi - ioi.mean()) / (ioi.std() + 1e-6), cues(feats), item.song))
    by_count: dict[int, list[Any]] = {}
    for row in rows:
        by_count.setdefault(row[0], []).append(row)
    rng = random.Random(seed)
    out = {}
    for cue in rows[0][2]:
        wins = total = 0.0
        for same in by_count.values():
            for row in same:
                other = rng.choice(same)
                if other[3] == row[3]:
                    continue
                c = row[2][cue] - row[2][cue].mean()
                s_true, s_other = float(c @ row[1]), float(c @ other[1])
                wins += 1.0 if s_true > s_other else 0.5 if s_true == s_other else 0.0
                total += 1
        out[cue] = round(wins / total, 3)
    return out


class NoteGRU(nn.Module):
    """`(B, 7, n)` note features -> `(B, dim)`: a BiGRU pooled mean and max, with the note count."""

    def __init__(self, hidden: int = 128, dim: int = 128) -> None:
        super().__init__()
        self.inp = nn.Linear(7, 64)
        self.gru = nn.GRU(64, hidden, batch_first=True, bidirectional=True)
        self.pool = MaskedPool("mean+max")
        self.count = CountEmbedding(16)
        width = self.pool.out_features(2 * hidden) + self.count.out_features()
        self.head = nn.Sequential(nn.Linear(width, 256), nn.ReLU(), nn.Dropout(0.1), nn.Linear(256, dim))

    def forward(self, batch: Batch) -> Tensor:
        assert batch.mask is not None
        x = F.relu(self.inp(batch.data.transpose(1, 2)))
        states = masked_gru(self.gru, x.transpose(1, 2), batch.mask)
        pooled = torch.cat([self.pool(states, batch.mask), self.count(batch.mask.sum(1))], 1)
        return self.head(pooled)


def learnt_bound(splits: dict[str, dict[str, Any]], epochs: int, seed: int, lyrics_options: dict[str, Any]) -> dict:
    from ugaar_kit_plugins.lyrics_prosody.encoder import ProsodyLyrics

    torch.manual_seed(seed)
    rng = random.Random(seed)
    notes_model, lyrics_model = NoteGRU(), ProsodyLyrics.from_options(lyrics_options)
    params = [*notes_model.parameters(), *lyrics_model.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=1e-4)

    def figures(split: dict[str, Any]) -> dict[str, dict[str, float]]:
        notes_model.eval(), lyrics_model.eval()
        with torch.no_grad():
            emb = {"audio": notes_model(pad_last(split["notes"])), "lyrics": lyrics_model(pad_last(split["lyrics"]))}
        notes_model.train(), lyrics_model.train()
        found = metrics.retrieval_metrics(emb, split["groups"], [("lyrics", "audio"), ("audio", "lyrics")])
        return {d: {"MRR": round(v["MRR"], 4), "MedR": v["MedR"]} for d, v in found.items()}

    train = splits["train"]
    order = list(range(len(train["notes"])))
    best: dict[str, Any] = {"valid_mrr": -1.0}
    for epoch in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order) - 127, 128):
            ids = order[start : start + 128]
            za = F.normalize(notes_model(pad_last([train["notes"][i] for i in ids])), dim=1)
            zl = F.normalize(lyrics_model(pad_last([train["lyrics"][i] for i in ids])), dim=1)
            logits = za @ zl.T / 0.07
            target = torch.arange(len(ids))
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        valid = figures(splits["valid"])
        mean = sum(v["MRR"] for v in valid.values()) / len(valid)
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, valid MRR {mean:.4f}", file=sys.stderr, flush=True)
        if mean > best["valid_mrr"]:
            best = {"valid_mrr": round(mean, 4), "epoch": epoch + 1, "test": figures(splits["test"])}
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a built dataset with notes in its manifest")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    from ugaar_kit_plugins.lyrics_prosody.encoder import ProsodyLyrics

    torch.set_num_threads(1)
    folder = DatasetFolder(args.data)
    featurizer = ProsodyLyrics()
    splits: dict[str, dict[str, Any]] = {}
    for name in ("train", "valid", "test"):
        items = [it for it in folder.split(name) if it.lyrics is not None and it.meta.get("notes")]
        splits[name] = {
            "items": items,
            "lyrics": [featurizer.featurize(it.lyrics) for it in items],
            "notes": [note_features(it.meta["notes"]) for it in items],
            "groups": group_keys(items),
        }
    test = splits["test"]
    syllables = [lyric_syllables(it) for it in test["items"]]
    baseline = syllable_count_baseline(syllables, [note_count(it) for it in test["items"]], test["groups"], ties="mean")
    out: dict[str, Any] = {
        "data": str(args.data),
        "test_pool": len(set(test["groups"])),
        "syllable_count": {
            d: {"MRR": round(baseline[d]["MRR"], 4), "MedR": baseline[d]["MedR"]}
            for d in ("lyrics->audio", "audio->lyrics")
        },
        "cue_auc": cue_aucs(splits["train"]["items"], splits["train"]["lyrics"], args.seed),
        "bound": learnt_bound(splits, args.epochs, args.seed, {}),
        "bound_notext": learnt_bound(splits, args.epochs, args.seed, {"text": False}),
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
