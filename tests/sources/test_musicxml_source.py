"""The `musicxml` source on scores written here: melisma, tie, rest, voices, verses, repeats,
tempo, .mxl archives and broken files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from ugaar_kit_plugins.dataset_musicxml.source import MusicXMLSource

from ugaar_kit.data.lyrics_text import normalize_lyrics
from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import Skipped

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 3.1 Partwise//EN" "http://www.musicxml.org/dtds/partwise.dtd">
"""


def note(
    step: str,
    octave: int,
    dur: int,
    *,
    alter: int = 0,
    lyric: str = "",
    syllabic: str = "single",
    number: str = "1",
    tie: str = "",
    fermata: bool = False,
    voice: str = "1",
    chord: bool = False,
    extra_lyrics: str = "",
) -> str:
    """One <note>; `dur` in divisions (2 a quarter note)."""
    alter_xml = f"<alter>{alter}</alter>" if alter else ""
    ties = "".join(f'<tie type="{t}"/>' for t in tie.split(",") if t)
    tied = "".join(f'<tied type="{t}"/>' for t in tie.split(",") if t)
    notations = f"<notations>{tied}{'<fermata/>' if fermata else ''}</notations>" if (tied or fermata) else ""
    lyr = (
        f'<lyric number="{number}"><syllabic>{syllabic}</syllabic><text>{lyric}</text></lyric>' if lyric else ""
    ) + extra_lyrics
    return (
        f"<note>{'<chord/>' if chord else ''}<pitch><step>{step}</step>{alter_xml}<octave>{octave}</octave></pitch>"
        f"<duration>{dur}</duration>{ties}<voice>{voice}</voice><type>quarter</type>{notations}{lyr}</note>"
    )


def rest(dur: int, voice: str = "1") -> str:
    return f"<note><rest/><duration>{dur}</duration><voice>{voice}</voice></note>"


def score(parts: list[tuple[str, str, list[str]]], title: str = "Test song") -> str:
    """A part-wise score: `parts` = [(id, name, [measure contents])]."""
    plist = "".join(f'<score-part id="{pid}"><part-name>{name}</part-name></score-part>' for pid, name, _ in parts)
    body = ""
    for pid, _, measures in parts:
        body += (
            f'<part id="{pid}">'
            + "".join(f'<measure number="{k}">{m}</measure>' for k, m in enumerate(measures, 1))
            + "</part>"
        )
    return f'{HEADER}<score-partwise version="3.1"><work><work-title>{title}</work-title></work><part-list>{plist}</part-list>{body}</score-partwise>'


ATTRS = "<attributes><divisions>2</divisions><key><fifths>1</fifths></key><time><beats>3</beats><beat-type>4</beat-type></time></attributes>"
TEMPO = '<direction placement="above"><direction-type><metronome><beat-unit>quarter</beat-unit><per-minute>90</per-minute></metronome></direction-type><sound tempo="90"/></direction>'

# "Happy melody" (melisma on "mel", "dy" tied over the bar) | rest | "sing a long together" (fermata).
# A piano part without lyrics comes first and carries the tempo; the voice part has a second,
# lyric-less voice in its last measure.
VOICE = [
    ATTRS
    + note("G", 4, 2, lyric="Hap", syllabic="begin")
    + note("A", 4, 2, lyric="py", syllabic="end")
    + note("B", 4, 2, lyric="mel", syllabic="begin"),
    note("C", 5, 1)
    + note("B", 4, 1)
    + note("A", 4, 2, lyric="o", syllabic="middle")
    + note("G", 4, 2, lyric="dy", syllabic="end", tie="start"),
    note("G", 4, 2, tie="stop") + rest(2) + rest(2),
    note("D", 5, 2, lyric="sing") + note("E", 5, 4, lyric="a"),
    note("D", 5, 2, lyric="long")
    + note("C", 5, 2, lyric="to", syllabic="begin")
    + note("B", 4, 2, lyric="geth", syllabic="middle")
    + note("G", 4, 2, voice="1", chord=True),
    note("A", 4, 4, lyric="er!", syllabic="end", fermata=True)
    + rest(2)
    + "<backup><duration>6</duration></backup>"
    + note("G", 3, 6, voice="2"),
]
PIANO = [ATTRS + TEMPO + rest(6)] + [rest(6)] * 5


@pytest.fixture
def song_file(tmp_path: Path) -> Path:
    path = tmp_path / "happy.musicxml"
    path.write_text(score([("P1", "Piano", PIANO), ("P2", "Voice", VOICE)]), encoding="utf-8")
    return path


def read_one(path: Path, **options) -> object:
    songs = MusicXMLSource.from_options(options).read(path)
    assert len(songs) == 1
    return songs[0]


def test_lyric_part_melisma_tie_rest_and_tempo(song_file: Path) -> None:
    song = read_one(song_file)
    assert song.id == "happy" and song.title == "Test song"
    assert song.meta["part"] == "Voice" and song.meta["tempo_stated"] is True
    first, second = song.passages  # the two-beat rest ends the first line
    # Melisma: "mel" is sung on B4 C5 B4; the tie G4-G4 over the bar is one sounding note.
    assert [(n.pitch, n.onset, n.duration) for n in first.notes] == [
        (67, 0.0, 1.0),
        (69, 1.0, 1.0),
        (71, 2.0, 1.0),
        (72, 3.0, 0.5),
        (71, 3.5, 0.5),
        (69, 4.0, 1.0),
        (67, 5.0, 2.0),
    ]
    assert [(s.text, s.note, s.word_end) for s in first.syllables] == [
        ("Hap", 0, False),
        ("py", 1, True),
        ("mel", 2, False),
        ("o", 5, False),
        ("dy", 6, True),
    ]
    assert first.lyrics == "Happy melody"
    assert first.time_signature == (3, 4) and first.key_fifths == 1 and first.tempo_bpm == 90.0
    # Seconds from the tempo mark (90 a minute: 2/3 s a quarter), relative to the passage start.
    assert first.notes[-1].onset_s == pytest.approx(5 * 60 / 90)
    assert first.notes[-1].duration_s == pytest.approx(2 * 60 / 90)
    # Second line: the chord's top note is the melody, voice 2 is ignored, the fermata note ends it.
    assert [n.pitch for n in second.notes] == [74, 76, 74, 72, 71, 69]
    assert [n.onset for n in second.notes] == [0.0, 1.0, 3.0, 4.0, 5.0, 6.0]
    assert second.lyrics == "sing a long together!"
    assert normalize_lyrics(second.lyrics) == "sing a long to geth er"


def test_line_rules_are_options(song_file: Path) -> None:
    # A rest must last 3 beats to cut: the song (11 syllables) becomes one line.
    whole = read_one(song_file, min_rest_beats=3.0, max_syllables=12).passages
    assert [p.lyrics for p in whole] == ["Happy melody sing a long together!"]
    # At most 4 syllables a line: cut at a word end, never inside a word, after the longest
    # note ("a" is a half note).
    short = read_one(song_file, max_syllables=4).passages
    assert [p.lyrics for p in short] == ["Happy", "melody", "sing a", "long together!"]


def test_part_option_and_errors(song_file: Path) -> None:
    assert read_one(song_file, part="2").meta["part_id"] == "P2"
    with pytest.raises(InputError, match="has no lyrics"):
        read_one(song_file, part="Piano")
    with pytest.raises(InputError, match=r"no part 'Tenor' \(parts: P1 \(Piano\), P2 \(Voice\)\)"):
        read_one(song_file, part="Tenor")
    with pytest.raises(InputError, match="verse 2 asked"):
        read_one(song_file, verse=2)


def _v2(text: str, syllabic: str = "single") -> str:
    return f'<lyric number="2"><syllabic>{syllabic}</syllabic><text>{text}</text></lyric>'


def _two_verse_repeat(after: list[str] | None = None, part: str = "Voice") -> str:
    """|: "la la" / "lo lo" :| then the measures `after` (default: "end" under a final note):
    verse n is sung on pass n."""
    measures = [
        ATTRS.replace("<beats>3</beats>", "<beats>2</beats>")
        + '<barline location="left"><repeat direction="forward"/></barline>'
        + note("C", 5, 2, lyric="la", extra_lyrics=_v2("lo"))
        + note("D", 5, 2, lyric="la,", extra_lyrics=_v2("lo,"))
        + '<barline location="right"><repeat direction="backward"/></barline>',
        *(after if after is not None else [note("E", 5, 4, lyric="end.", fermata=True)]),
    ]
    return score([("P1", part, measures)])


def test_repeats_unfold_with_the_next_verse(tmp_path: Path) -> None:
    path = tmp_path / "repeat.xml"
    path.write_text(_two_verse_repeat(), encoding="utf-8")
    song = read_one(path, min_punctuation_syllables=2)
    assert [p.lyrics for p in song.passages] == ["la la,", "lo lo,", "end."]
    assert [n.pitch for p in song.passages for n in p.notes] == [72, 74, 72, 74, 76]
    printed = read_one(path, repeats="as-written", min_punctuation_syllables=2)
    assert [p.lyrics for p in printed.passages] == ["la la,", "end."]
    second_verse = read_one(path, verse=2, repeats="as-written", min_punctuation_syllables=2)
    assert [p.lyrics for p in second_verse.passages][0] == "lo lo,"


def test_the_section_after_a_repeat_keeps_the_verse_of_the_last_pass(tmp_path: Path) -> None:
    """|: A :| B where B's lyrics are numbered 2, as music21's Bach chorales encode them (B follows
    the second pass, so its text continues verse 2): the B section is sung, not dropped."""

    def bare(step: str, lyric: str, syllabic: str = "single") -> str:
        return note(step, 5, 2).replace("</note>", _v2(lyric, syllabic) + "</note>")

    after = [
        bare("E", "Ein", "begin") + bare("F", "mal,", "end"),
        bare("G", "end.") + rest(2),
    ]
    path = tmp_path / "chorale.xml"
    path.write_text(_two_verse_repeat(after, part="Soprano"), encoding="utf-8")
    song = read_one(path, min_punctuation_syllables=2)
    assert [p.lyrics for p in song.passages] == ["la la,", "lo lo,", "Einmal,", "end."]
    assert [n.pitch for p in song.passages for n in p.notes] == [72, 74, 72, 74, 76, 77, 79]
    # read once as printed, only verse 1 is sung: the second-verse-only section stays silent
    printed = read_one(path, repeats="as-written", min_punctuation_syllables=2)
    assert [p.lyrics for p in printed.passages] == ["la la,"]


def test_jumps_are_refused_unless_read_as_written(tmp_path: Path) -> None:
    text = _two_verse_repeat().replace('<barline location="right"><repeat direction="backward"/></barline>', "")
    text = text.replace("fermata=True", "").replace("</measure></part>", '<sound dacapo="yes"/></measure></part>')
    path = tmp_path / "dc.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="dacapo jump"):
        read_one(path)
    assert read_one(path, repeats="as-written").passages


def test_mxl_archive_is_read_through_its_container(tmp_path: Path, song_file: Path) -> None:
    path = tmp_path / "happy.mxl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "META-INF/container.xml",
            '<container><rootfiles><rootfile full-path="score/happy.xml" '
            'media-type="application/vnd.recordare.musicxml+xml"/></rootfiles></container>',
        )
        zf.writestr("score/happy.xml", song_file.read_text(encoding="utf-8"))
    plain, zipped = read_one(song_file), read_one(path)
    assert [p.lyrics for p in zipped.passages] == [p.lyrics for p in plain.passages]
    assert [n.pitch for p in zipped.passages for n in p.notes] == [n.pitch for p in plain.passages for n in p.notes]


@pytest.mark.parametrize("member", ["../evil.xml", "/etc/passwd"])
def test_mxl_entry_escaping_the_archive_is_refused(tmp_path: Path, song_file: Path, member: str) -> None:
    path = tmp_path / "evil.mxl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "META-INF/container.xml", f'<container><rootfiles><rootfile full-path="{member}"/></rootfiles></container>'
        )
        zf.writestr("happy.xml", song_file.read_text(encoding="utf-8"))
    with pytest.raises(InputError, match="outside the archive") as err:
        read_one(path)
    assert str(err.value).startswith(str(path))


def test_malformed_and_foreign_files_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text(HEADER + "<score-partwise><part id='P1'><measure></part>", encoding="utf-8")
    with pytest.raises(InputError, match="malformed XML") as err:
        read_one(broken)
    assert str(err.value).startswith(f"{broken}: ") and "\n" not in str(err.value)
    other = tmp_path / "other.xml"
    other.write_text("<html><body/></html>", encoding="utf-8")
    with pytest.raises(InputError, match=r"not a MusicXML score \(root element <html>\)"):
        read_one(other)
    fake = tmp_path / "fake.mxl"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a readable .mxl archive"):
        read_one(fake)


def test_entities_are_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    text = score([("P1", "Voice", [ATTRS + note("C", 5, 2, lyric="&xxe;") + note("D", 5, 2, lyric="la")])])
    text = text.replace(
        HEADER, f'<?xml version="1.0"?><!DOCTYPE score-partwise [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    )
    path = tmp_path / "xxe.xml"
    path.write_text(text, encoding="utf-8")
    try:
        song = read_one(path)
    except InputError:
        return  # refusing the file is as good
    assert "TOPSECRET" not in " ".join(p.lyrics for p in song.passages)


def test_songs_skips_bad_files_and_finds_all_extensions(tmp_path: Path, song_file: Path) -> None:
    (tmp_path / "broken.mxl").write_bytes(b"nonsense")
    (tmp_path / ".hidden.xml").write_text("<x/>", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a score", encoding="utf-8")
    got = list(MusicXMLSource().songs([tmp_path]))
    songs = [s for s in got if not isinstance(s, Skipped)]
    skipped = [s for s in got if isinstance(s, Skipped)]
    assert [s.id for s in songs] == ["happy"]
    assert [Path(s.path).name for s in skipped] == ["broken.mxl"]


def test_built_triplets_carry_the_scores_syllables(tmp_path: Path, song_file: Path) -> None:
    builder = pytest.importorskip("ugaar_kit.build.builder")
    import soundfile
    from PIL import Image

    from ugaar_kit.data.lyrics_text import syllable_count
    from ugaar_kit.interfaces.dataset import DatasetFolder

    (song,) = MusicXMLSource().songs([song_file])
    out = tmp_path / "built"
    builder.build_dataset([song], out, builder.BuildOptions(workers=1), progress=False)
    items = sorted(DatasetFolder(out).items, key=lambda it: it.meta["passage"])
    assert len(items) == len(song.passages) == 2
    for it, passage in zip(items, song.passages):
        # The score's syllables, on the notes they start on, and the normalized lyrics with as
        # many syllables as the score sings ("melody" re-syllabified by the one normalizer).
        assert it.meta["syllables"] == [[s.text, s.note] for s in passage.syllables]
        assert it.lyrics == normalize_lyrics(passage.lyrics)
        assert syllable_count(it.lyrics) == len(passage.syllables)
        assert it.song == "happy"
        # Audio as long as the passage at the score's tempo (90 a minute), an image 128 px high.
        beats = passage.notes[-1].onset + passage.notes[-1].duration
        info = soundfile.info(str(it.audio))
        assert beats * 60 / 90 <= info.duration <= beats * 60 / 90 + 1.5
        with Image.open(it.sheet) as img:
            assert img.height == 128 and img.width > 64
    assert [it.lyrics for it in items] == ["hap py me lo dy", "sing a long to geth er"]
