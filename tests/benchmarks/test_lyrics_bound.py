"""benchmarks/lyrics_bound.py: its aligned-cue AUC finds a planted stress-duration relation and
reports none where there is none; its note features describe the manifest's notes."""

from __future__ import annotations

import random

import lyrics_bound
import pytest
import torch
from ugaar_kit_plugins.lyrics_prosody.encoder import line_features

from ugaar_kit.interfaces.dataset import Item

WORDS = ["a ma zing", "hap py", "to day", "go", "be fore", "yes ter day", "mo ment", "the", "for get"]


def songs(planted: bool, n: int = 240, seed: int = 0) -> tuple[list[Item], list[torch.Tensor]]:
    """Lines of 6 syllables, one per song; with `planted`, every primary-stressed syllable gets a
    long note, otherwise note lengths are random."""
    rng = random.Random(seed)
    items, feats = [], []
    while len(items) < n:
        text = " ".join(rng.choice(WORDS) for _ in range(4))
        syllables = text.split()
        if len(syllables) < 6:
            continue
        line = " ".join(syllables[:6])
        f = line_features(line)
        stressed = (f[2] == 1).tolist()
        t, notes = 0.0, []
        for s in stressed:
            d = (0.6 if s else 0.2) if planted else rng.choice([0.2, 0.6])
            notes.append([60.0, t, d])
            t += d
        items.append(Item(id=str(len(items)), song=f"s{len(items)}", lyrics=line, meta={"notes": notes}))
        feats.append(f)
    return items, feats


def test_a_planted_stress_duration_relation_is_found() -> None:
    aucs = lyrics_bound.cue_aucs(*songs(planted=True))
    assert aucs["primary stress"] > 0.85
    assert set(aucs) == {"primary stress", "word end", "long vowel", "letters", "last syllable"}


def test_no_relation_gives_about_half() -> None:
    aucs = lyrics_bound.cue_aucs(*songs(planted=False))
    assert aucs["primary stress"] == pytest.approx(0.5, abs=0.1)


def test_note_features_follow_the_notes() -> None:
    notes = [[60, 0.0, 0.25], [62, 0.5, 0.25], [67, 1.0, 1.0]]
    f = lyrics_bound.note_features(notes)
    assert f.shape == (7, 3)
    assert f[3, 1] == pytest.approx(4 * 0.25)  # the rest before the second note
    assert f[4, 2] == pytest.approx(5 / 12)  # the interval from the last pitch, in octaves
    assert f[6].tolist() == [0.0, 0.5, 1.0]
