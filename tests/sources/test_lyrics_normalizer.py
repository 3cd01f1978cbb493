"""The lyrics normalizer on real lines: LMD's sung syllables and the same line as words meet."""

from __future__ import annotations

import pytest

from ugaar_kit.data.lyrics_text import lyric_words, normalize_lyrics, syllabify, syllable_count

# (LMD syllable form as stored in the sample, the same line as a user writes it, normalized)
SAME = [
    (
        "I said you wan na be start in' some thin'",
        "I said you wanna be startin' somethin'",
        "i said you wan na be start ing some thing",
    ),
    ("just a lit tle bit more", "just a little bit more", "just a lit tle bit more"),
    (
        "mak in' me be lieve that you're just mine",
        "makin' me believe that you're just mine",
        "mak ing me be lieve that you're just mine",
    ),
    ("chas ing a way my cares", "chasing away my cares", "chas ing a way my cares"),
    ("oh u sual ly I'm strong", "oh usually I'm strong", "oh u sual ly i'm strong"),
    ("My dear La dy Jane", "My dear Lady Jane", "my dear la dy jane"),
    ("Cause I'd miss you ba by", "'Cause I'd miss you baby", "cause i'd miss you ba by"),
    (
        "be cause con stant ly you been on my mind",
        "because constantly you been on my mind",
        "be cause con stant ly you been on my mind",
    ),
    ("I saw Mom my kiss ing San ta Claus", "I saw Mommy kissing Santa Claus", "i saw mom my kiss ing san ta claus"),
    ("work ing to geth er day to day", "working together day to day", "work ing to geth er day to day"),
    ("In Beth le hem at mid night", "In Bethlehem at midnight", "in beth le hem at mid night"),
    ("When you love a wo man", "When you love a woman", "when you love a wo man"),
]

# Cut in other places, but the same number of syllables (what the syllable-count cue needs).
SAME_COUNT = [
    ("are spir its in the ma te rial world", "are spirits in the material world"),
    ("Wal king free in har mo ny", "Walking free in harmony"),
    ("Our sis ters and our bro thers", "Our sisters and our brothers"),
    ("to boys in the mil i tar y shirts", "to boys in the military shirts"),
]


@pytest.mark.parametrize(("syllables", "words", "expected"), SAME)
def test_syllable_and_word_forms_meet(syllables: str, words: str, expected: str) -> None:
    assert normalize_lyrics(syllables) == expected
    assert normalize_lyrics(words) == expected


@pytest.mark.parametrize(("syllables", "words"), SAME_COUNT)
def test_syllable_counts_agree_where_cuts_differ(syllables: str, words: str) -> None:
    assert (
        syllable_count(normalize_lyrics(words)) == syllable_count(normalize_lyrics(syllables)) == len(syllables.split())
    )


def test_case_unicode_apostrophes_and_punctuation() -> None:
    assert normalize_lyrics("Don\u2019t STOP \u2014 believin\u2019!") == "don't stop be liev ing"
    assert normalize_lyrics("\ufb01re and ICE\u2026 (yeah), 2 times") == "fire and ice yeah 2 times"
    assert normalize_lyrics("under_score") == "un der score"
    assert normalize_lyrics("  ,.!? ") == ""
    assert lyric_words("Rock 'n' roll, singin'") == ["rock", "n", "roll", "singing"]


def test_english_rules() -> None:
    assert syllabify("love") == ("love",)  # silent final e
    assert syllabify("loved") == ("loved",) and syllabify("wanted") == ("wan", "ted")
    assert syllabify("table") == ("ta", "ble") and syllabify("little") == ("lit", "tle")
    assert syllabify("getting") == ("get", "ting") and syllabify("kissing") == ("kiss", "ing")
    assert syllabify("everything") == ("e", "ve", "ry", "thing")
    assert syllabify("yes") == ("yes",) and syllabify("my") == ("my",)


def test_other_languages_use_their_dictionary() -> None:
    assert normalize_lyrics("Herzlich tut mich verlangen nach einem sel'gen End", "de") == (
        "herz lich tut mich ver lan gen nach ei nem sel gen end"
    )
    # No pyphen dictionary: the plain vowel-group rule.
    assert normalize_lyrics("Aloha oe", "haw") == "a lo ha oe"


def test_normalizing_is_idempotent_and_a_syllable_stays_whole() -> None:
    for _, words, _ in SAME:
        once = normalize_lyrics(words)
        assert normalize_lyrics(once) == once
    for syllable in ("ba", "by", "rial", "ing", "tle", "ev", "thing", "sual", "you're"):
        assert syllabify(syllable) == (syllable,)
