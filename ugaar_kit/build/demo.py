"""The demo dataset: real songs with lyrics that may be redistributed, from music21's corpus.

`ugaar-kit dataset demo` reads the lyric-bearing scores that ship inside the installed `music21`
package (used in place, nothing is copied into ugaar-kit) through the `musicxml` score source
and builds them like any other source. The works, their languages and their terms:

- English songs, public domain with encodings released by their encoder: Amy Beach, *Prayer of
  a Tired Child* (1915; encoding CC BY-SA), J. Rosamond & James Weldon Johnson, *Lift Every Voice
  and Sing* (1900; encoding CC0), Stephen Foster, *Jeanie with the Light Brown Hair* (1854; public
  domain), Liliuokalani, *Aloha Oe* (1884; encoding CC0; Hawaiian and English).
- Two Renaissance pieces: D. Luca, *Gloria* (Latin; encoding CC BY-SA 3.0), Vicente Lusitano,
  *Allor che ignuda* (Italian; encoding CC0).
- The chorales of J. S. Bach in the corpus (German; public domain; encodings by Margaret
  Greentree, jsbchorales.net, distributed with music21 by permission): the soprano part, verse 1.

Chorale tunes and texts recur across cantatas, and a few files are variants of one another: a
song sharing 30% or more of its lines (normalized lyrics) or of its melodies (interval and
duration sequences of 5 notes or more) with a song already taken is skipped as a duplicate, so no near-copy sits across
the train/test split. See docs/datasets.md for sizes and times.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ugaar_kit.data.lyrics_text import normalize_lyrics
from ugaar_kit.errors import InputError, UgaarError
from ugaar_kit.interfaces.dataset import ScoreSource, Skipped
from ugaar_kit.interfaces.score import Song

DUPLICATE_SHARE = 0.3
"""A song sharing this share of its lines or melodies with a kept song is a duplicate."""


@dataclass(frozen=True)
class DemoWork:
    """One score (or a folder of scores) of music21's corpus that the demo uses."""

    path: str
    """Relative to music21's `corpus/` folder; a folder means every `.mxl` in it."""
    language: str
    licence: str


WORKS: tuple[DemoWork, ...] = (
    DemoWork(
        "beach/prayer_of_a_tired_child.musicxml",
        "en",
        "Public domain (1915); encoding (c) 2017 Michael Scott Cuthbert, CC BY-SA",
    ),
    DemoWork(
        "johnson_j_r/lift_every_voice.mxl", "en", "Public domain (1900); encoding by Michael Scott Asato Cuthbert, CC0"
    ),
    DemoWork("leadSheet/fosterBrownHair.mxl", "en", "Public domain (1854)"),
    DemoWork("liliuokalani/aloha_oe.mxl", "en", "Public domain (1884); encoding by Michael Scott Asato Cuthbert, CC0"),
    DemoWork("luca/gloria.xml", "la", "Public domain; encoding (c) 2010 Michael Scott Cuthbert, CC BY-SA 3.0"),
    DemoWork(
        "lusitano/allor_che_ignuda.mxl", "it", "Public domain; encoding (c) 2022 Michael Scott Asato Cuthbert, CC0"
    ),
    DemoWork(
        "bach",
        "de",
        "Public domain (J. S. Bach); encoding (c) Margaret Greentree (jsbchorales.net), distributed with music21 by permission",
    ),
)


@dataclass(frozen=True)
class DemoFile:
    """One score file of the demo, with the song id it gets."""

    path: Path
    song_id: str
    work: DemoWork


def corpus_dir() -> Path:
    """music21's installed corpus folder (found without importing music21, which is slow)."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise UgaarError(
            "the demo data comes from music21's corpus, but music21 is not installed (pip install music21)"
        )
    corpus = Path(next(iter(spec.submodule_search_locations))) / "corpus"
    if not (corpus / "bach").is_dir():
        raise InputError(corpus, "music21's corpus is not installed (this music21 was packaged without it)")
    return corpus


def _natural_key(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def demo_files(corpus: Path | None = None) -> list[DemoFile]:
    """Every file the demo reads, English songs first, then the others, chorales by BWV number."""
    corpus = corpus or corpus_dir()
    out: list[DemoFile] = []
    for work in WORKS:
        target = corpus / work.path
        files = sorted(target.glob("*.mxl"), key=_natural_key) if target.is_dir() else [target]
        for f in files:
            if not f.is_file():
                raise InputError(f, "a demo score is missing from music21's corpus")
            folder = f.relative_to(corpus).parts[0]
            stem = f.name.rsplit(".", 1)[0]
            out.append(DemoFile(f, f"{folder}-{stem}", work))
    return out


Melody = tuple[tuple[float, ...], ...]


def _fingerprints(song: Song) -> tuple[set[str], set[Melody]]:
    """The song's normalized lyric lines, and its melodies of 5 notes or more as (interval,
    duration) steps: equal under transposition, different for a common 3-note figure."""
    language = str(song.meta.get("language", "en"))
    lines = {normalize_lyrics(p.lyrics, language) for p in song.passages}
    melodies = {
        (*((b.pitch - a.pitch, a.duration) for a, b in zip(p.notes, p.notes[1:])), (p.notes[-1].duration,))
        for p in song.passages
        if len(p.notes) >= 5
    }
    return lines, melodies


def demo_songs(source_cls: type[ScoreSource], limit: int | None = None) -> Iterator[Song | Skipped]:
    """The demo's songs read by `source_cls` (the `musicxml` source), duplicates skipped, at
    most `limit` songs. Each song's `meta` gets its `language`, `licence` and `corpus_path`."""
    corpus = corpus_dir()
    sources: dict[str, ScoreSource] = {}
    seen_lines: dict[str, str] = {}
    seen_melodies: dict[Melody, str] = {}
    taken = 0
    for f in demo_files(corpus):
        if limit is not None and taken >= limit:
            return
        lang = f.work.language
        if lang not in sources:
            sources[lang] = source_cls.from_options({"language": lang})
        try:
            songs = sources[lang].read(f.path)
        except InputError as exc:
            yield Skipped(str(f.path), exc.problem)
            continue
        for song in songs:
            lines, melodies = _fingerprints(song)
            shared_lines = [seen_lines[x] for x in lines if x in seen_lines]
            shared_melodies = [seen_melodies[m] for m in melodies if m in seen_melodies]
            if len(shared_lines) >= DUPLICATE_SHARE * len(lines) or len(shared_melodies) >= DUPLICATE_SHARE * max(
                len(melodies), 1
            ):
                other = max(set(shared_lines + shared_melodies), key=(shared_lines + shared_melodies).count)
                yield Skipped(str(f.path), f"duplicate: shares lines or melodies with {other}")
                continue
            for x in lines:
                seen_lines.setdefault(x, f.song_id)
            for m in melodies:
                seen_melodies.setdefault(m, f.song_id)
            song = dataclasses.replace(
                song,
                id=f.song_id,
                meta={
                    **song.meta,
                    "language": lang,
                    "licence": f.work.licence,
                    "corpus_path": f.path.relative_to(corpus).as_posix(),
                },
            )
            taken += 1
            yield song


def build_demo(
    out: Path,
    source_cls: type[ScoreSource],
    *,
    limit: int | None = None,
    progress: bool = True,
    **build_options: Any,
) -> tuple[Any, list[Skipped]]:
    """Build the demo dataset folder at `out` with the dataset builder.

    Returns the builder's summary and the corpus files left out (no lyrics, or a duplicate),
    which are expected and kept out of the summary. `build_options` override fields of
    `ugaar_kit.build.builder.BuildOptions` (e.g. `workers`); the demo writes whole songs too
    (`whole_songs`, for identifying pieces) unless told not to, with passages only as training
    items (`train_page_windows` False, where whole songs default to page windows): its short
    budgets see each passage less often with them, and the demo took 5 min 1 s on 2 cores with
    them (2026-12-07), past its 5 minutes, and named the wrong piece for its recording."""
    from ugaar_kit.build.builder import BuildOptions, build_dataset

    known = {f.name for f in dataclasses.fields(BuildOptions)}
    unknown = sorted(set(build_options) - known)
    if unknown:
        raise UgaarError(f"unknown build option '{unknown[0]}' (known: {', '.join(sorted(known))})")
    options = dataclasses.replace(BuildOptions(whole_songs=True, train_page_windows=False), **build_options)
    left_out: list[Skipped] = []

    def songs() -> Iterator[Song]:
        for song in demo_songs(source_cls, limit):
            if isinstance(song, Skipped):
                left_out.append(song)
            else:
                yield song

    summary = build_dataset(songs(), Path(out), options, progress=progress, source_format=source_cls.name)
    return summary, left_out
