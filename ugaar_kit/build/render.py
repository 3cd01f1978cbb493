"""Rendering one passage's files: the sheet image and its audio (plus extra audio versions).
Runs in the build's worker processes; each call is independent."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ugaar_kit.build.engrave import png_bytes, rasterize, to_svg
from ugaar_kit.build.files import write_atomic
from ugaar_kit.build.synth import TIMBRES, audio_bytes, note_times, synthesize
from ugaar_kit.interfaces.modality import AUDIO
from ugaar_kit.interfaces.score import Passage


@dataclass(frozen=True)
class AudioVersion:
    """An extra rendering of a passage's audio: a named timbre at a tempo factor."""

    timbre: str = "piano"
    tempo: float = 1.0

    @classmethod
    def parse(cls, spec: str) -> AudioVersion:
        """`TIMBRE[@TEMPO]`, e.g. `bright`, `soft@0.8`, `piano@1.25` (tempo 2 = twice as fast)."""
        name, _, tempo = spec.strip().partition("@")
        if name not in TIMBRES:
            raise ValueError(f"audio version '{spec}': unknown timbre '{name}' (known: {', '.join(TIMBRES)})")
        try:
            factor = float(tempo) if tempo else 1.0
        except ValueError:
            raise ValueError(f"audio version '{spec}': tempo '{tempo}' is not a number") from None
        if not 0.25 <= factor <= 4:
            raise ValueError(f"audio version '{spec}': tempo factor must be within 0.25..4")
        return cls(name, factor)


@dataclass(frozen=True)
class RenderSettings:
    """What the files of a passage depend on (besides the passage)."""

    height: int
    print_lyrics: bool
    sample_rate: int
    tempo_bpm: float
    versions: tuple[AudioVersion, ...] = ()
    audio_format: str = "flac"


@dataclass(frozen=True)
class Job:
    """One passage to render, with its output paths (absolute) and the clef its sheet shows
    (None: the one that fits the passage's range)."""

    id: str
    passage: Passage
    sheet: Path
    audio: Path
    versions: tuple[Path, ...] = ()
    clef: str | None = None

    def outputs(self) -> tuple[Path, ...]:
        return (self.sheet, self.audio, *self.versions)


@dataclass(frozen=True)
class SongJob:
    """One whole song to render (`--whole-songs`): its passages end to end as one recording and
    as score pages under `root/songs/<name>/`, and `record` (its `songs.jsonl` row, naming its
    passages' ids) completed with where each passage sits. `starts[i]` is passage i's first note
    in `whole`."""

    id: str
    whole: Passage
    starts: tuple[int, ...]
    root: Path
    name: str
    audio_format: str
    record: dict[str, Any]

    def path(self, file: str) -> str:
        """A file of the song, relative to the dataset folder."""
        return f"songs/{self.name}/{file}"

    @property
    def audio(self) -> str:
        return self.path(f"audio.{self.audio_format}")

    @property
    def located(self) -> Path:
        """The finished record, written last: the song is done when it exists."""
        return self.root / self.path("song.json")

    def outputs(self) -> tuple[Path, ...]:
        return (self.root / self.audio, self.located)


STAGES = ("engrave", "rasterize", "encode image", "synthesize", "encode audio", "write", "whole songs")
"""The stages of a passage whose times a build reports (seconds, summed over its processes)."""


class Stopwatch:
    """Seconds spent per stage: `with watch("engrave"): ...`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self._stage = ""

    def __call__(self, stage: str) -> Stopwatch:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.seconds[self._stage] += time.perf_counter() - self._start


def render(job: Job, settings: RenderSettings, watch: Stopwatch | None = None) -> None:
    """Write the job's PNG and WAV files (each atomically); ValueError if it cannot be engraved."""
    watch = watch or Stopwatch()
    with watch("engrave"):
        svg = to_svg(job.passage, print_lyrics=settings.print_lyrics, clef=job.clef)
    with watch("rasterize"):
        image = rasterize(svg, settings.height)
    with watch("encode image"):
        png = png_bytes(image)
    with watch("write"):
        write_atomic(job.sheet, png)
    renditions = [(job.audio, 1.0, TIMBRES["piano"])]
    renditions += [(path, v.tempo, TIMBRES[v.timbre]) for path, v in zip(job.versions, settings.versions)]
    for path, tempo, timbre in renditions:
        with watch("synthesize"):
            audio = synthesize(note_times(job.passage, settings.tempo_bpm, tempo), settings.sample_rate, timbre)
        with watch("encode audio"):
            data = audio_bytes(audio, settings.sample_rate, settings.audio_format)
        with watch("write"):
            write_atomic(path, data)


def render_song(job: SongJob, settings: RenderSettings) -> None:
    """Write a whole song's pages, recording and `song.json` (its record with each passage's
    time span and place on the pages); ValueError if it cannot be engraved."""
    from ugaar_kit.build.engrave import render_page
    from ugaar_kit.build.pages import engrave_song

    engraved = engrave_song(job.whole, list(job.starts), print_lyrics=settings.print_lyrics)
    pages = []
    for n, page in enumerate(engraved.pages, 1):
        pages.append(job.path(f"page-{n:02d}.png"))
        write_atomic(job.root / pages[-1], png_bytes(render_page(page.svg)))
    times = note_times(job.whole, settings.tempo_bpm)
    audio = synthesize(times, settings.sample_rate, TIMBRES["piano"])
    write_atomic(job.root / job.audio, audio_bytes(audio, settings.sample_rate, settings.audio_format))
    bounds = list(job.starts) + [len(times)]
    passages = []
    for i, pid in enumerate(job.record["passages"]):
        notes = times[bounds[i] : bounds[i + 1]]
        start = notes[0][1] if notes else 0.0
        end = max((on + d for _, on, d in notes), default=start)
        passages.append({"id": pid, "start": round(start, 6), "end": round(end, 6), **engraved.located(i)})
    record = {
        **{k: v for k, v in job.record.items() if k != "passages"},
        AUDIO: job.audio,
        "duration": round(len(audio) / settings.sample_rate, 6),
        "pages": pages,
        "page_size": [int(engraved.pages[0].width_px), int(engraved.pages[0].height_px)] if pages else None,
        "systems": engraved.system_boxes(),
        "clocks": engraved.clocks(times),
        "passages": passages,
    }
    write_atomic(job.located, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


def render_many(
    jobs: list[Job | SongJob], settings: RenderSettings
) -> tuple[list[tuple[str, str | None]], dict[str, float]]:
    """Render jobs in order: (id, None) for each done, (id, reason) for each that failed; and the
    seconds spent in each stage."""
    out: list[tuple[str, str | None]] = []
    watch = Stopwatch()
    for job in jobs:
        try:
            if isinstance(job, SongJob):
                with watch("whole songs"):
                    render_song(job, settings)
            else:
                render(job, settings, watch)
            out.append((job.id, None))
        except (ValueError, RuntimeError) as exc:
            out.append((job.id, f"{type(exc).__name__}: {exc}"))
    return out, watch.seconds


def init_worker() -> None:
    """A build worker: one thread for any numeric library it loads."""
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import sys

        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
    except Exception:  # noqa: BLE001 - a thread setting never stops a build
        pass
