"""How often the `prosody` encoder rebuilds a line's words right from its syllables.

Dataset lyrics reach encoders as normalized syllables without word boundaries; the `prosody`
encoder rebuilds the words with the CMU dictionary (`ugaar_kit_plugins.lyrics_prosody.words`).
This measures that on lyric lines whose words are known: MusicXML songs (their `syllabic`
marks), by default the English songs with lyrics in music21's corpus. Each line is normalized as
the datasets' lyrics are, the truth being the words' own syllables, and the rebuilt word ends are
compared with the true ones, for both tie rules (longest words, most words).

    .venv/bin/python benchmarks/word_rebuild.py [FILES...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ugaar_kit.data.lyrics_text import lyric_words, syllabify

ENGLISH_CORPUS = (
    "beach/prayer_of_a_tired_child.musicxml",
    "johnson_j_r/lift_every_voice.mxl",
    "leadSheet/fosterBrownHair.mxl",
    "leadSheet/berlinAlexandersRagtime.mxl",
)
"""The English songs with lyrics in music21's corpus (public domain or permissively licensed)."""


def corpus_files() -> list[Path]:
    import music21

    root = Path(music21.__file__).parent / "corpus"
    return [root / rel for rel in ENGLISH_CORPUS if (root / rel).is_file()]


def lines_of(path: Path) -> list[list[str]]:
    """The lyric lines of one MusicXML file as lists of words (normalized spelling)."""
    from ugaar_kit_plugins.dataset_musicxml.source import MusicXMLSource

    songs = MusicXMLSource().read(path)
    return [lyric_words(p.lyrics, "en") for song in songs for p in song.passages]


def truth(words_: list[str]) -> tuple[list[str], list[bool]]:
    """A line's normalized syllables and, for each, whether a word ends on it."""
    syllables: list[str] = []
    ends: list[bool] = []
    for word in words_:
        parts = syllabify(word, "en")
        syllables += parts
        ends += [False] * (len(parts) - 1) + [True]
    return syllables, ends


def words_from(ends: list[bool]) -> set[tuple[int, int]]:
    spans, start = set(), 0
    for i, end in enumerate(ends):
        if end:
            spans.add((start, i + 1))
            start = i + 1
    return spans


def measure(lines: list[list[str]], longest: bool) -> dict[str, float | int]:
    from ugaar_kit_plugins.lyrics_prosody.words import word_ends

    n_lines = read = exact = boundaries_right = n_syllables = words_right = n_words = multi_right = n_multi = 0
    for line in lines:
        syllables, ends = truth(line)
        if not syllables:
            continue
        n_lines += 1
        got = word_ends(syllables, longest)
        if got is None:
            continue
        read += 1
        exact += got == ends
        boundaries_right += sum(a == b for a, b in zip(got, ends))
        n_syllables += len(ends)
        true_words, got_words = words_from(ends), words_from(got)
        words_right += len(true_words & got_words)
        n_words += len(true_words)
        multi = {w for w in true_words if w[1] - w[0] > 1}
        multi_right += len(multi & got_words)
        n_multi += len(multi)
    return {
        "lines": n_lines,
        "lines_read": read,
        "line_exact": exact / max(read, 1),
        "syllable_boundary_accuracy": boundaries_right / max(n_syllables, 1),
        "word_accuracy": words_right / max(n_words, 1),
        "multisyllable_word_accuracy": multi_right / max(n_multi, 1),
        "words": n_words,
        "multisyllable_words": n_multi,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="MusicXML files (default: music21's English songs)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    files = args.files or corpus_files()
    if not files:
        print("no MusicXML files (music21's corpus is missing)", file=sys.stderr)
        return 1
    lines = [line for f in files for line in lines_of(f)]
    result = {
        "files": [f.name for f in files],
        "longest": measure(lines, True),
        "most_words": measure(lines, False),
    }
    for rule in ("longest", "most_words"):
        r = result[rule]
        print(
            f"{rule:>10}: {r['lines_read']}/{r['lines']} lines read, words right {r['word_accuracy']:.3f} "
            f"(of {r['words']}; multi-syllable {r['multisyllable_word_accuracy']:.3f} of {r['multisyllable_words']}), "
            f"syllable boundaries {r['syllable_boundary_accuracy']:.3f}, whole lines {r['line_exact']:.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
