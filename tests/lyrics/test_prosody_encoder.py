"""The `prosody` lyrics encoder: words rebuilt from syllables with the CMU dictionary, the
per-syllable features (word position, stress, vowel), conformance, the ablation switches, and
that it learns what a bag of meanings cannot: which line has which stress pattern."""

from __future__ import annotations

import pytest
import torch
from ugaar_kit_plugins.lyrics_prosody import words
from ugaar_kit_plugins.lyrics_prosody.encoder import (
    LINE_POSITION,
    POSITION,
    ROWS,
    STRESS,
    TEXT,
    VOWEL,
    WORD_SYLLABLES,
    ProsodyLyrics,
    line_features,
    syllable_id,
)

from ugaar_kit.data.lyrics_text import normalize_lyrics
from ugaar_kit.interfaces.encoder import Batch
from ugaar_kit.registry.discovery import load_registry
from ugaar_kit.testing import check_encoder

SMALL = {"buckets": 256, "text_dim": 8, "hidden_size": 16, "hidden": 32, "dim": 16}


def small(**values: object) -> ProsodyLyrics:
    return ProsodyLyrics.from_options({**SMALL, **values})  # type: ignore[return-value]


def spans(line: str) -> list[str]:
    syllables = line.split()
    found = words.split_words(syllables)
    assert found is not None
    return ["".join(syllables[a:b]) for a, b in found]


def test_registered_as_lyrics_encoder() -> None:
    registry, _ = load_registry(autoload=False)
    assert registry.encoder("lyrics", "prosody") is ProsodyLyrics


def test_words_are_rebuilt_from_lmd_style_syllables() -> None:
    # LMD's own line (the data's README), normalized as the datasets' lyrics are
    line = normalize_lyrics("I said you wan na be start in' some thin'")
    assert line == "i said you wan na be start ing some thing"
    assert spans(line) == ["i", "said", "you", "wannabe", "starting", "something"]
    assert spans(normalize_lyrics("Twinkle, twinkle, little star")) == ["twinkle", "twinkle", "little", "star"]
    assert spans(normalize_lyrics("Merrily, merrily, merrily")) == ["merrily"] * 3


def test_a_syllable_no_word_covers_stands_alone_and_unknown_lines_are_not_read() -> None:
    assert spans("ba by zzq") == ["baby", "zzq"]
    # mostly outside the dictionary: not read at all (every syllable unknown)
    assert words.split_words("zzq xqv qqz la".split()) is None
    infos = words.rebuild("zzq xqv qqz la".split())
    assert [i.position for i in infos] == [words.UNKNOWN] * 4
    assert [i.stress for i in infos] == [words.STRESS_UNKNOWN] * 4


def test_stress_and_vowels_follow_the_dictionary() -> None:
    infos = words.rebuild("a maz ing grace".split())  # AH0 M EY1 Z IH0 NG, G R EY1 S
    assert [i.position for i in infos] == [words.FIRST, words.MIDDLE, words.LAST, words.SINGLE]
    assert [i.stress for i in infos] == [words.UNSTRESSED, words.PRIMARY, words.UNSTRESSED, words.PRIMARY]
    assert [words.VOWELS[i.vowel - 1] for i in infos] == ["AH", "EY", "IH", "EY"]
    assert [i.long_vowel for i in infos] == [False, True, False, True]
    assert [i.word_syllables for i in infos] == [3, 3, 3, 1]


def test_the_longest_word_rule_beats_the_most_words_rule_on_real_english_songs() -> None:
    """On music21's English songs (MusicXML with real word boundaries) the rebuilt words are
    right for 93.8% of the words (longest rule) against 88.1% (most words); measured by
    benchmarks/word_rebuild.py (on the path through pyproject's pytest `pythonpath`)."""
    import word_rebuild

    files = word_rebuild.corpus_files()
    if len(files) < 3:
        pytest.skip("music21's corpus songs are missing")
    lines = [line for f in files for line in word_rebuild.lines_of(f)]
    longest, most = word_rebuild.measure(lines, True), word_rebuild.measure(lines, False)
    assert longest["words"] > 400
    assert longest["word_accuracy"] > 0.92
    assert longest["multisyllable_word_accuracy"] > 0.8
    assert longest["word_accuracy"] > most["word_accuracy"] + 0.03


def test_features_hold_one_column_per_syllable() -> None:
    feats = line_features("a maz ing grace")
    assert feats.shape == (len(ROWS), 4) and feats.dtype == torch.float32
    assert feats[TEXT].tolist() == [syllable_id(s, 4096) for s in ("a", "maz", "ing", "grace")]
    assert feats[POSITION].tolist() == [words.FIRST, words.MIDDLE, words.LAST, words.SINGLE]
    assert feats[STRESS].tolist() == [words.UNSTRESSED, words.PRIMARY, words.UNSTRESSED, words.PRIMARY]
    assert feats[VOWEL].min() > 0 and feats[WORD_SYLLABLES].tolist() == [3, 3, 3, 1]
    assert feats[LINE_POSITION].tolist() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    plain = line_features("a maz ing grace", language="none")
    assert plain[TEXT].tolist() == feats[TEXT].tolist()
    assert plain[POSITION].abs().sum() == 0 and plain[STRESS].abs().sum() == 0 and plain[VOWEL].abs().sum() == 0
    assert line_features("").shape == (len(ROWS), 1)


def test_syllable_ids_are_stable() -> None:
    # crc32, not Python's salted hash: a cache or checkpoint made elsewhere stays valid
    import zlib

    assert syllable_id("grace", 4096) == zlib.crc32(b"grace") % 4096 + 1


@pytest.mark.parametrize("values", [{}, {"language": "none", "hidden": 0, "layers": 2}, {"text": False}])
def test_conforms_on_lyric_lines(lyric_lines: list[str], values: dict) -> None:
    enc = check_encoder(lambda: small(**values), lyric_lines[:12])
    assert enc.output_dim == 16


def test_ablation_switches_leave_the_features_and_their_cache_key_alone() -> None:
    base, ablated = small(), small(stress=False, text=False, word_position=False, vowel=False)
    assert base.feature_key() == ablated.feature_key()
    assert small(language="none").feature_key() != base.feature_key()
    torch.manual_seed(0)
    ablated.eval()
    a = ablated.collate([ablated.featurize("a maz ing grace")])
    b = ablated.collate([ablated.featurize("zzq qqz xxv grace")])  # other text and stress, same length
    assert torch.allclose(ablated(a), ablated(b), atol=1e-6)  # only the count and line position remain


def _stress_pattern_lines() -> tuple[list[str], list[int]]:
    """Three-syllable words stressed on the first syllable (`beautiful`) or on the second
    (`amazing`): the label is the stress pattern, not the text."""
    first = ["beautiful", "merrily", "certainly", "happily", "family", "wandering", "memory", "wonderful"]
    second = ["amazing", "together", "remember", "forever", "believer", "tomorrow", "banana", "potato"]
    lines, labels = [], []
    for label, group in enumerate((first, second)):
        for word in group:
            line = normalize_lyrics(word)
            infos = words.rebuild(line.split())
            stressed = [i.stress == words.PRIMARY for i in infos]
            if len(infos) == 3 and stressed == [label == 0, label == 1, False]:
                lines.append(line)
                labels.append(label)
    assert labels.count(0) >= 5 and labels.count(1) >= 5
    return lines, labels


def test_it_learns_stress_patterns_it_was_never_shown_as_text() -> None:
    """With the text switched off (only stress, word position, vowels, count, line position), a
    linear probe on the output tells first-syllable from second-syllable stress on words the
    probe never trained on: the features carry the prosody."""
    lines, labels = _stress_pattern_lines()
    enc = small(text=False, dropout=0.0)
    probe = torch.nn.Linear(enc.output_dim, 2)
    feats = [enc.featurize(line) for line in lines]
    y = torch.tensor(labels)
    held = [0, labels.index(1)]  # one word of each pattern kept out of training
    train = [i for i in range(len(lines)) if i not in held]
    opt = torch.optim.Adam([*enc.parameters(), *probe.parameters()], lr=1e-2)
    torch.manual_seed(0)
    for _ in range(150):
        batch: Batch = enc.collate([feats[i] for i in train])
        loss = torch.nn.functional.cross_entropy(probe(enc(batch)), y[train])
        opt.zero_grad()
        loss.backward()
        opt.step()
    enc.eval()
    with torch.no_grad():
        guess = probe(enc(enc.collate([feats[i] for i in held]))).argmax(1)
    assert guess.tolist() == y[held].tolist()
