"""Building a dataset folder from the songs of a score source.

`build_dataset` segments every song into passages, groups versions of one song and assigns
splits by song, engraves (verovio + resvg) and synthesizes (additive) every passage on all
cores, and writes `manifest.jsonl` + `dataset.json` (see `manifest`). It resumes: files are
written atomically, and a re-run with the same render settings keeps every file already there.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ugaar_kit.build.files import safe_name
from ugaar_kit.build.manifest import read_info, write_info, write_manifest, write_songs
from ugaar_kit.build.notation import choose_clef
from ugaar_kit.build.render import AudioVersion, Job, RenderSettings, SongJob, init_worker, render_many
from ugaar_kit.build.segment import join_lines, repeat_key, segment
from ugaar_kit.build.split import SongPrint, assign_splits
from ugaar_kit.build.synth import note_times
from ugaar_kit.build.windows import forget_page_windows, training_page_windows, training_windows
from ugaar_kit.data.lyrics_text import normalize_lyrics
from ugaar_kit.errors import UgaarError
from ugaar_kit.interfaces.dataset import SPLITS, Skipped
from ugaar_kit.interfaces.modality import AUDIO, LYRICS, SHEET
from ugaar_kit.interfaces.options import option
from ugaar_kit.interfaces.score import Passage, Song
from ugaar_kit.version import __version__


@dataclass(frozen=True)
class BuildOptions:
    """How a dataset folder is built from songs."""

    segment: Literal["line", "window"] = option("line", "Passages: each lyric line, or windows of N syllables.")
    window: int = option(8, "Syllables per passage when segment = window.", min=1, max=200)
    lines: int = option(
        1, "Consecutive lyric lines per passage when segment = line (2: lines 1-2, 3-4, ...).", min=1, max=50
    )
    height: int = option(128, "Height of the sheet images in pixels (width follows the passage).", min=16, max=1024)
    print_lyrics: bool = option(False, "Print the lyrics under the notes in the sheet images.")
    clef: Literal["passage", "song"] = option(
        "passage",
        "Clef of each passage's sheet image: the one that fits the passage's own range, or its song's (song: the "
        "clef that fits the whole song, as its score pages show it; one clef a song).",
    )
    sample_rate: int = option(22050, "Audio sample rate (Hz) of the audio files.", min=8000, max=96000)
    audio_format: Literal["flac", "wav"] = option(
        "flac", "Audio files: FLAC (lossless: the samples of a 16-bit WAV in about a quarter of its space), or WAV."
    )
    tempo_bpm: float = option(100.0, "Tempo (quarter notes a minute) for sources without real timing.", min=10, max=400)
    audio_versions: tuple[str, ...] = option(
        (), "Extra audio renderings per passage, TIMBRE[@TEMPO] (timbres: piano, soft, bright, clarinet)."
    )
    split: tuple[float, float, float] = option((0.8, 0.1, 0.1), "Train/valid/test fractions (of passages), by song.")
    whole_songs: bool = option(
        False,
        "Also write each whole song: its passages end to end as one recording and as score pages, "
        "with where each passage sits in both (songs.jsonl): for piece identification and localisation.",
    )
    train_windows: float = option(
        0.0,
        "With whole songs: also cut each training song's recording into windows of this many seconds "
        "(every half of it, as embed cuts a query recording), each a training item with the score and lyrics "
        "of the passage at its midpoint; 0: none.",
        min=0,
        max=60,
    )
    train_page_windows: bool | None = option(
        None,
        "With whole songs: also cut each training song's score pages into the windows identify reads a page "
        "with (along its systems), each a training item with the recording and lyrics of the passage at its middle. "
        "Default (None): on with whole songs, whose purpose is identification (docs/datasets.md); False: passages only.",
    )
    page_window_audio: Literal["aligned", "passage"] = option(
        "aligned",
        "The recording a training page window is paired with: the stretch of the song's recording its notes "
        "sound in (aligned), or the recording of the passage printed at its middle (passage).",
    )
    train_page_hop: float = option(
        3.0,
        "Step between training page windows along a system, in strip heights (each window 6 wide): 3 as identify "
        "and embed read a page; smaller cuts more windows, each overlapping more (1.5 measured no better).",
        min=0.25,
        max=12,
    )
    train_page_widths: tuple[float, ...] = option(
        (6.0,),
        "Widths of the training page windows, in strip heights, each system cut at each: 6 as identify and embed "
        "read a page; adding 4 (the width locate reads a piece's pages in) measured no better (docs/datasets.md).",
    )
    page_clock: Literal["notes", "boxes"] = option(
        "boxes",
        "How an aligned page window's edges are laid on the recording: by its system's noteheads at their "
        "onsets (notes, songs.jsonl's clocks), or by the passages' boxes, each spanning its passage's time (boxes; "
        "notes measured no better). locate times a store's page windows the same way.",
    )
    seed: int = option(0, "Seed of the split.")
    limit_songs: int | None = option(None, "Build only the first N songs (quick runs).", min=1)
    workers: int = option(0, "Build processes (0: one per core).", min=0, max=256)

    def resolved(self) -> BuildOptions:
        """These options with their defaults that depend on others settled: `train_page_windows`
        on with `whole_songs` unless set (what the build does and `dataset.json` records)."""
        if self.train_page_windows is not None:
            return self
        return dataclasses.replace(self, train_page_windows=self.whole_songs)

    def render_settings(self) -> RenderSettings:
        try:
            versions = tuple(AudioVersion.parse(v) for v in self.audio_versions)
        except ValueError as exc:
            raise UgaarError(str(exc)) from None
        return RenderSettings(
            self.height, self.print_lyrics, self.sample_rate, self.tempo_bpm, versions, self.audio_format
        )


@dataclass
class BuildSummary:
    """What a build did: counts, what was skipped and why, passages per split."""

    out: Path
    songs: int = 0
    passages: int = 0
    built: int = 0
    reused: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    song_splits: dict[str, int] = field(default_factory=dict)
    whole_songs: int = 0
    """Whole songs written to songs.jsonl (`--whole-songs`)."""
    train_windows: int = 0
    """Training windows cut from the whole songs (`--train-windows`), in the manifest."""
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: reading and planning (this process), then each rendering stage summed
    over the build's processes (`ugaar_kit.build.render.STAGES`)."""

    def __str__(self) -> str:
        lines = [
            f"{self.passages} passages from {self.songs} songs in {self.out}: {self.built} built, "
            f"{self.reused} kept from an earlier run, {len(self.failed)} failed ({self.seconds:.1f} s)",
            "splits: "
            + ", ".join(f"{s} {self.splits.get(s, 0)} passages / {self.song_splits.get(s, 0)} songs" for s in SPLITS),
        ]
        if self.whole_songs:
            lines.append(f"{self.whole_songs} whole songs (recordings and score pages) in songs.jsonl")
        if self.train_windows:
            lines.append(
                f"{self.train_windows} training windows of the whole songs (recordings, pages) in the manifest"
            )
        if self.stages:
            lines.append(
                "stage seconds (summed over processes): "
                + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in self.stages.items() if seconds > 0)
            )
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} source file(s):")
            lines += [f"  {s.path}: {s.reason}" for s in self.skipped]
        if self.failed:
            lines.append(f"failed {len(self.failed)} passage(s):")
            lines += [f"  {pid}: {reason}" for pid, reason in self.failed[:20]]
            if len(self.failed) > 20:
                lines.append(f"  ... and {len(self.failed) - 20} more")
        return "\n".join(lines)


@dataclass
class _Planned:
    song: Song
    index: int
    passage: Passage
    job: Job
    row: dict[str, Any]


def _song_print(song: Song, passages: list[Passage]) -> SongPrint:
    language = str(song.meta.get("language", "en"))
    lines = frozenset(text for p in passages if len((text := normalize_lyrics(p.lyrics, language)).split()) >= 3)
    return SongPrint(song.id, song.title, lines, len(passages))


def _collect(songs: Iterable[Song | Skipped], limit: int | None) -> tuple[list[Song], list[Skipped]]:
    kept: list[Song] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for s in songs:
        if isinstance(s, Skipped):
            skipped.append(s)
            continue
        if s.id in seen:
            raise UgaarError(f"two songs have the id '{s.id}': song ids must be unique in a source")
        seen.add(s.id)
        kept.append(s)
        if limit is not None and len(kept) >= limit:
            break
    return kept, skipped


def song_clef(passages: list[Passage]) -> str:
    """The clef a song is written in: the one that fits all its passages' notes, the clef its
    whole-song pages get (`pages.engrave_song` engraves the passages joined)."""
    return choose_clef([n.pitch for p in passages for n in p.notes]).name


def plan(songs: list[Song], out: Path, options: BuildOptions) -> list[_Planned]:
    """Every passage to build with its files and manifest row, in song and passage order."""
    per_song = {s.id: segment(s, options.segment, options.window, options.lines) for s in songs}
    splits, groups = assign_splits([_song_print(s, per_song[s.id]) for s in songs], options.split, options.seed)
    settings = options.render_settings()
    planned: list[_Planned] = []
    for song in songs:
        folder = safe_name(song.id)
        language = str(song.meta.get("language", "en"))
        first_of: dict[str, str] = {}
        clef = song_clef(per_song[song.id]) if options.clef == "song" else None
        for i, passage in enumerate(per_song[song.id]):
            pid = f"{song.id}-{i:03d}"
            sheet = f"sheet/{folder}/{i:03d}.png"
            ext = settings.audio_format
            audio = f"audio/{folder}/{i:03d}.{ext}"
            versions = [f"audio/{folder}/{i:03d}.v{k + 1}.{ext}" for k in range(len(settings.versions))]
            job = Job(pid, passage, out / sheet, out / audio, tuple(out / v for v in versions), clef)
            raw = passage.lyrics
            row: dict[str, Any] = {
                "id": pid,
                "song": groups[song.id],
                "song_id": song.id,
                "split": splits[song.id],
                AUDIO: audio,
                SHEET: sheet,
            }
            if versions:
                row["audio_versions"] = versions
            row |= {
                LYRICS: normalize_lyrics(raw, language),
                "lyrics_raw": raw,
                "group": first_of.setdefault(repeat_key(passage), pid),
                "notes": [[p, round(on, 6), round(d, 6)] for p, on, d in note_times(passage, options.tempo_bpm)],
                "syllables": [[s.text, s.note] for s in passage.syllables],
                "syllable_count": len(passage.syllables),
                "passage": i,
            }
            if song.title:
                row["title"] = song.title
            if song.source:
                row["source"] = song.source
            row |= {k: v for k, v in song.meta.items() if k not in row}
            planned.append(_Planned(song, i, passage, job, row))
    return planned


def plan_songs(planned: list[_Planned], out: Path, options: BuildOptions) -> list[SongJob]:
    """One whole-song job per song of `planned`: its passages end to end (`join_lines`)."""
    by_song: dict[str, list[_Planned]] = {}
    for p in planned:
        by_song.setdefault(p.song.id, []).append(p)
    jobs = []
    for song_id, items in by_song.items():
        starts, n = [], 0
        for p in items:
            starts.append(n)
            n += len(p.passage.notes)
        first = items[0].row
        record: dict[str, Any] = {"song": first["song"], "song_id": song_id, "split": first["split"]}
        if items[0].song.title:
            record["title"] = items[0].song.title
        record["passages"] = [p.row["id"] for p in items]
        whole = join_lines([p.passage for p in items])
        name = safe_name(song_id)
        jobs.append(SongJob(f"{song_id} (whole song)", whole, tuple(starts), out, name, options.audio_format, record))
    return jobs


def _song_rows(jobs: list[SongJob], failed: dict[str, str]) -> list[dict[str, Any]]:
    """The `songs.jsonl` rows of the songs rendered (their `song.json`), failed passages left out."""
    rows = []
    for job in jobs:
        if job.id in failed:
            continue
        try:
            row = json.loads(job.located.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            failed[job.id] = f"cannot read {job.located} ({exc})"
            continue
        row["passages"] = [p for p in row["passages"] if p["id"] not in failed]
        rows.append(row)
    return rows


def _settings_record(options: BuildOptions) -> dict[str, Any]:
    """The options the files depend on (a re-run with other values rebuilds every file)."""
    return (
        {k: getattr(options, k) for k in ("segment", "window", "height", "print_lyrics", "sample_rate", "tempo_bpm")}
        | {"audio_versions": list(options.audio_versions)}
        | ({"lines": options.lines} if options.lines != 1 else {})
        | ({"audio_format": options.audio_format} if options.audio_format != "wav" else {})
        | ({"clef": options.clef} if options.clef != "passage" else {})  # builds before the option: passage
    )


def _run(
    jobs: list[Job | SongJob], settings: RenderSettings, workers: int, progress: bool
) -> tuple[dict[str, str], dict[str, float]]:
    """Render jobs on `workers` processes (in this one if 1): id -> reason for each failure, and
    the seconds of each stage summed over the processes."""
    from ugaar_kit.infra.progress import progress_bar

    failed: dict[str, str] = {}
    stages: dict[str, float] = {}
    chunks: list[list[Job | SongJob]] = []
    size = max(1, min(8, len(jobs) // (workers * 8) or 1))  # small: the last chunks end together
    for start in range(0, len(jobs), size):
        chunks.append(jobs[start : start + size])
    with progress_bar("building", enabled=progress, transient=False, unit="passages") as bar:
        task = bar.add_task("build", total=len(jobs))

        def collect(done: tuple[list[tuple[str, str | None]], dict[str, float]]) -> None:
            results, seconds = done
            for pid, reason in results:
                if reason is not None:
                    failed[pid] = reason
            for stage, t in seconds.items():
                stages[stage] = stages.get(stage, 0.0) + t
            bar.advance(task, len(results))

        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                collect(render_many(chunk, settings))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker) as pool:
                futures = [pool.submit(render_many, chunk, settings) for chunk in chunks]
                for fut in as_completed(futures):
                    collect(fut.result())
    return failed, stages


def build_dataset(
    songs: Iterable[Song | Skipped],
    out: Path,
    options: BuildOptions,
    *,
    progress: bool = True,
    source_format: str | None = None,
) -> BuildSummary:
    """Build (or resume building) the dataset folder `out` from `songs`; see the module doc.

    `source_format` (the score source's name) is recorded in `dataset.json`."""
    start = time.perf_counter()
    out = Path(out)
    options = options.resolved()
    if (options.train_windows > 0 or options.train_page_windows) and not options.whole_songs:
        raise UgaarError("--train-windows and --train-page-windows cut whole songs: add --whole-songs")
    kept, skipped = _collect(songs, options.limit_songs)
    if not kept:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3])
        raise UgaarError("no song to build" + (f" (skipped: {reasons})" if reasons else ""))
    planned = plan(kept, out, options)
    settings = options.render_settings()
    out.mkdir(parents=True, exist_ok=True)

    record = _settings_record(options)
    previous = read_info(out)
    reuse = previous.get("render") == record
    song_jobs = plan_songs(planned, out, options) if options.whole_songs else []
    jobs: list[Job | SongJob] = [*(p.job for p in planned), *song_jobs]
    todo = [j for j in jobs if not (reuse and all(f.is_file() for f in j.outputs()))]
    # Record the settings first, so a build interrupted now is resumed with matching files.
    write_info(
        out, {**{k: v for k, v in previous.items() if k != "format_version"}, "render": record, "complete": False}
    )
    workers = options.workers or os.cpu_count() or 1
    planned_at = time.perf_counter()
    failed, stages = _run(todo, settings, workers, progress) if todo else ({}, {})

    rows = [p.row for p in planned if p.job.id not in failed]
    windows: list[dict[str, Any]] = []
    if song_jobs:
        song_rows = _song_rows(song_jobs, failed)
        write_songs(out, song_rows)
        if options.train_windows > 0:
            seconds = options.train_windows
            windows = training_windows(out, song_rows, rows, seconds, seconds / 2, options.audio_format)
        if options.train_page_windows:
            forget_page_windows(out, previous.get("build_options") or {}, options)
            windows += training_page_windows(
                out,
                song_rows,
                rows,
                options.page_window_audio,
                options.audio_format,
                options.page_clock,
                options.train_page_hop,
                options.train_page_widths,
            )
    write_manifest(out, rows + windows)
    split_counts = Counter(r["split"] for r in rows)
    song_counts = Counter(split for _, split in {(r["song_id"], r["split"]) for r in rows})
    source = source_format or next((s.source for s in kept if s.source), None)
    write_info(
        out,
        {
            "tool": "ugaar-kit",
            "tool_version": __version__,
            "source_format": source,
            "songs": len({r["song_id"] for r in rows}),
            "passages": len(rows),
            **({"whole_songs": len(song_jobs) - sum(j.id in failed for j in song_jobs)} if song_jobs else {}),
            **({"train_windows": len(windows)} if windows else {}),
            "splits": {s: split_counts.get(s, 0) for s in SPLITS},
            "songs_per_split": {s: song_counts.get(s, 0) for s in SPLITS},
            "build_options": {f.name: _plain(getattr(options, f.name)) for f in dataclasses.fields(options)},
            "render": record,
            "complete": True,
        },
    )
    return BuildSummary(
        out=out,
        songs=len(kept),
        passages=len(rows),
        built=sum(isinstance(j, Job) and j.id not in failed for j in todo),
        reused=len(planned) - sum(isinstance(j, Job) for j in todo),
        whole_songs=len(song_jobs) - sum(j.id in failed for j in song_jobs),
        train_windows=len(windows),
        skipped=skipped,
        failed=sorted(failed.items()),
        splits={s: split_counts.get(s, 0) for s in SPLITS},
        song_splits={s: song_counts.get(s, 0) for s in SPLITS},
        seconds=time.perf_counter() - start,
        stages={"read and plan": planned_at - start, **stages},
    )


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
