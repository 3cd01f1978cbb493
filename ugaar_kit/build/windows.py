"""Training windows (`dataset build --whole-songs --train-windows 5`): the windows a query
recording is cut into, as training items.

A store's recordings are embedded as windows of `window` seconds every `hop` (5 s every 2.5 s
by default), and `identify` and `locate` query with such windows; a model trained only on
passage clips (each starting and ending with its lyric line) has never seen a clip that
straddles two lines. This cuts each training song's whole recording into those windows and
makes each a training item: its audio the window, its score and lyrics those of the passage
sounding at the window's midpoint (the passage `locate` would answer). Only songs of the
training split get windows, so validation and test stay passage against passage.

Page windows (`--train-page-windows`, the default with whole songs) are the windows a page is
read with, each paired by default with the stretch of the recording its notes sound in
(`--page-window-audio aligned`: where the system's clock puts its edges in time, by the
passage boxes or by its noteheads, `ugaar_kit.interfaces.dataset.system_clock`), so a pair
shows and sounds the same notes, as
CPJKU's audio–sheet snippet pairs do; `passage` pairs it with the recording of the passage
printed at its middle instead, as before 2026-12-07.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ugaar_kit.build.engrave import png_bytes
from ugaar_kit.build.files import write_atomic
from ugaar_kit.build.synth import audio_bytes
from ugaar_kit.interfaces.dataset import passage_at, system_clock
from ugaar_kit.interfaces.modality import AUDIO, SHEET
from ugaar_kit.interfaces.rows import cut_windows

WINDOWS_DIR = "windows"


PAGE_WINDOW_OPTIONS = {"page_window_audio": "passage", "page_clock": "boxes", "train_page_hop": 3.0}
"""Build options that decide what a training page window's files hold, each with the value a
build that did not record it used."""


def forget_page_windows(out: Path, recorded: Mapping[str, Any], options: Any) -> bool:
    """Remove the training page windows a resumed build made with other `PAGE_WINDOW_OPTIONS` than
    `options` (`recorded`: dataset.json's `build_options`), which would otherwise be kept by name;
    True when it did."""
    import shutil

    if not recorded or all(recorded.get(k, old) == getattr(options, k) for k, old in PAGE_WINDOW_OPTIONS.items()):
        return False
    shutil.rmtree(out / WINDOWS_DIR / "page", ignore_errors=True)
    return True


def _stale(target: Path, made_at: float) -> bool:
    """True when a window's file is absent or older than the recording or page it is cut from."""
    return not target.is_file() or target.stat().st_mtime < made_at


def _window_row(passage: Mapping[str, Any], drop: tuple[str, ...], **fields: Any) -> dict[str, Any]:
    """A window's manifest row: its passage's row without `drop` (and `audio_versions`,
    `group`: the window has no versions and is no repeat of anything), with `fields`."""
    skip = {"audio_versions", "group", *drop}
    return {k: v for k, v in passage.items() if k not in skip} | fields


def training_windows(
    out: Path,
    songs: Iterable[Mapping[str, Any]],
    rows: list[dict[str, Any]],
    window: float,
    hop: float,
    audio_format: str,
) -> list[dict[str, Any]]:
    """Manifest rows of the windows of each training song of `songs` (`songs.jsonl` rows), cut
    from its recording into `out/windows/<window>s/SONG/w000.<format>` (files already there
    and newer than the recording are kept: a re-run resumes). `rows` are the passages'
    manifest rows, whose score and lyrics a window takes."""
    import numpy as np
    import soundfile

    by_id = {r["id"]: r for r in rows}
    made: list[dict[str, Any]] = []
    for song in songs:
        if song.get("split") != "train":
            continue
        passages = [p for p in song.get("passages", []) if p["id"] in by_id]
        if not passages:
            continue
        recording = out / song[AUDIO]
        info = soundfile.info(str(recording))
        rate = int(info.samplerate)
        spans = [(float(p["start"]), float(p["end"])) for p in passages]
        folder = Path(song[AUDIO]).parent.name
        made_at = recording.stat().st_mtime
        samples = None
        for k, (a, b) in enumerate(cut_windows(int(info.frames), rate, window, hop)):  # as `embed` cuts
            start, end = a / rate, b / rate
            name = f"{WINDOWS_DIR}/{window:g}s/{folder}/w{k:03d}.{audio_format}"
            if _stale(out / name, made_at):
                if samples is None:
                    samples, _ = soundfile.read(str(recording), dtype="float32", always_2d=False)
                write_atomic(out / name, audio_bytes(np.asarray(samples[a:b], dtype=np.float32), rate, audio_format))
            passage = by_id[passages[passage_at(spans, (start + end) / 2)]["id"]]
            fields = {"id": f"{song['song_id']}-w{k:03d}", AUDIO: name, "window": [round(start, 6), round(end, 6)]}
            made.append(_window_row(passage, ("notes",), **fields, window_of=passage["id"]))
    return made


def _passage_on(song: Mapping[str, Any], page: int, system: int, x: float) -> str | None:
    """The id of the passage printed at `x` on `system` of `page` (1-based), or the nearest one
    on that system; None when no passage is on it."""
    best: tuple[float, str] | None = None
    for p in song.get("passages", []):
        for span in p.get("spans") or [p]:
            if span.get("page") != page or span.get("system") != system:
                continue
            x0, _y0, x1, _y1 = span["box"]
            distance = 0.0 if x0 <= x < x1 else min(abs(x - x0), abs(x - x1))
            if best is None or distance < best[0]:
                best = (distance, p["id"])
    return best[1] if best is not None else None


def _recorded_system(found: Any, boxes: list[list[int]]) -> int | None:
    """The 1-based number of the recorded system box a found system overlaps most."""
    overlaps = [min(found.y1, b[3]) - max(found.y0, b[1]) for b in boxes]
    if not overlaps or max(overlaps) <= 0:
        return None
    return overlaps.index(max(overlaps)) + 1


MIN_ALIGNED = 0.5
"""Seconds: a page window whose notes sound for less (a clef and a key, a last bar line) gets
no aligned audio and is left out (`page_window_audio="aligned"`)."""


def training_page_windows(
    out: Path,
    songs: Iterable[Mapping[str, Any]],
    rows: list[dict[str, Any]],
    audio: str = "aligned",
    audio_format: str = "flac",
    clock: str = "boxes",
    hop: float | None = None,
    widths: Sequence[float] = (),
) -> list[dict[str, Any]]:
    """Manifest rows of the windows `identify` cuts a training song's score pages into (systems
    found from the staff lines, windows of `PAGE_WINDOW` strip heights every `PAGE_HOP`), written
    as `out/windows/page/SONG/p01-s02-w00.png`, each a training item with the lyrics of the
    passage printed at the window's middle and, by `audio`, that passage's recording
    (`passage`) or the stretch of the song's recording the window's notes sound in (`aligned`:
    `system_clock`, cut beside the image as `p01-s02-w00.flac`): its edges timed by the passage
    boxes (`clock="boxes"`) or by the system's noteheads (`"notes"`, songs.jsonl's `clocks`).
    `hop`: strip heights between windows (default `PAGE_HOP`, as a page query is read).
    `widths`: the windows' widths in strip heights (default `PAGE_WINDOW` alone); several cut each
    system at each, a window of another width than `PAGE_WINDOW` named `p01-s02-w00-x4.png` (its id
    `...w00x4`). Files already there and newer than their page (and recording) are kept."""
    import numpy as np
    import soundfile

    from ugaar_kit.data.media import eight_bit, load_image
    from ugaar_kit.data.staves import PAGE_HOP, PAGE_WINDOW, windows_of_page

    by_id = {r["id"]: r for r in rows}
    made: list[dict[str, Any]] = []
    for song in songs:
        if song.get("split") != "train":
            continue
        folder = Path(song[AUDIO]).parent.name
        recording, samples, rate = out / song[AUDIO], None, 0
        clocks: dict[tuple[int, int], tuple[list[float], list[float]]] = {}  # (page, system) -> its clock
        for page_no, (page, boxes) in enumerate(zip(song.get("pages", []), song.get("systems", [])), 1):
            page_path = out / page
            made_at = page_path.stat().st_mtime
            image = load_image(page_path).numpy()
            # as a query's page is read (more of them with a smaller hop), at each width
            cuts = [
                (width, win)
                for width in widths or (PAGE_WINDOW,)
                for win in windows_of_page(image, width, hop or PAGE_HOP)
            ]
            for width, win in cuts:
                number = _recorded_system(win.staff, boxes)
                if number is None:
                    continue
                pid = _passage_on(song, page_no, number, win.staff.x0 + (win.x0 + win.x1) / 2)
                if pid is None or pid not in by_id:
                    continue
                k, w = win.number, win.index
                x = "" if width == PAGE_WINDOW else f"x{width:g}"  # another width: named with it
                name = f"{WINDOWS_DIR}/page/{folder}/p{page_no:02d}-s{k:02d}-w{w:02d}{x and '-' + x}.png"
                if _stale(out / name, made_at):
                    write_atomic(out / name, png_bytes(eight_bit(win.pixels)))
                fields: dict[str, Any] = {"id": f"{song['song_id']}-p{page_no:02d}s{k:02d}w{w:02d}{x}", SHEET: name}
                place = [page_no, k, int(win.staff.x0 + win.x0), int(win.staff.x0 + win.x1)]
                if audio == "aligned":
                    if (page_no, number) not in clocks:
                        clocks[page_no, number] = system_clock(
                            song.get("passages", []), page_no, number, song.get("clocks") if clock == "notes" else None
                        )
                    xs, ts = clocks[page_no, number]
                    t0, t1 = (float(np.interp(x, xs, ts)) for x in place[2:])
                    if t1 - t0 < MIN_ALIGNED:
                        continue
                    clip = f"{name[: -len('.png')]}.{audio_format}"
                    if _stale(out / clip, max(made_at, recording.stat().st_mtime)):
                        if samples is None:
                            samples, rate = soundfile.read(str(recording), dtype="float32", always_2d=False)
                        cut = np.asarray(samples[round(t0 * rate) : round(t1 * rate)], dtype=np.float32)
                        write_atomic(out / clip, audio_bytes(cut, int(rate), audio_format))
                    fields |= {AUDIO: clip, "window": [round(t0, 6), round(t1, 6)]}
                made.append(_window_row(by_id[pid], (), **fields, page_window=place, window_of=pid))
    return made
