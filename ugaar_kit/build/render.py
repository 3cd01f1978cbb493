"""Rendering one passage's files: the sheet image and its audio (plus extra audio versions).
Runs in the build's worker processes; each call is independent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ugaar_kit.build.engrave import engrave, png_bytes
from ugaar_kit.build.files import write_atomic
from ugaar_kit.build.synth import TIMBRES, note_times, synthesize, wav_bytes
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


@dataclass(frozen=True)
class Job:
    """One passage to render, with its output paths (absolute)."""

    id: str
    passage: Passage
    sheet: Path
    audio: Path
    versions: tuple[Path, ...] = ()

    def outputs(self) -> tuple[Path, ...]:
        return (self.sheet, self.audio, *self.versions)


def render(job: Job, settings: RenderSettings) -> None:
    """Write the job's PNG and WAV files (each atomically); ValueError if it cannot be engraved."""
    write_atomic(job.sheet, png_bytes(engrave(job.passage, settings.height, print_lyrics=settings.print_lyrics)))
    notes = note_times(job.passage, settings.tempo_bpm)
    write_atomic(job.audio, wav_bytes(synthesize(notes, settings.sample_rate), settings.sample_rate))
    for path, version in zip(job.versions, settings.versions):
        notes = note_times(job.passage, settings.tempo_bpm, version.tempo)
        audio = synthesize(notes, settings.sample_rate, TIMBRES[version.timbre])
        write_atomic(path, wav_bytes(audio, settings.sample_rate))


def render_many(jobs: list[Job], settings: RenderSettings) -> list[tuple[str, str | None]]:
    """Render jobs in order; (id, None) for each done, (id, reason) for each that failed."""
    out: list[tuple[str, str | None]] = []
    for job in jobs:
        try:
            render(job, settings)
            out.append((job.id, None))
        except (ValueError, RuntimeError) as exc:
            out.append((job.id, f"{type(exc).__name__}: {exc}"))
    return out


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
