"""Dataset interfaces: score sources that the builder turns into triplets, and aligned items.

Two kinds of dataset plugin exist, both registered with `register_datasets`:

- a `ScoreSource` reads a source format (LMD lyrics-melody arrays, MusicXML) into `Song`s of
  `Passage`s; `ugaar-kit dataset build --format NAME` engraves, synthesizes and writes them as a
  dataset folder;
- an `ItemSource` yields aligned `Item`s directly from a user's own files (a CSV or JSONL
  manifest of audio paths, image paths and lyrics).

A dataset folder (`manifest.jsonl` + `dataset.json`, see docs/formats.md) is read by
`DatasetFolder`, which every command that takes `--data` uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ugaar_kit.errors import InputError
from ugaar_kit.interfaces import options as opts
from ugaar_kit.interfaces.modality import AUDIO, BUILTIN_INPUTS, LYRICS, SHEET
from ugaar_kit.interfaces.options import NoOptions
from ugaar_kit.interfaces.score import Song

MANIFEST = "manifest.jsonl"
DATASET_INFO = "dataset.json"
SONGS = "songs.jsonl"
"""Whole songs (`dataset build --whole-songs`): one row per song, see docs/formats.md."""
SPLITS = ("train", "valid", "test")


LEGACY_INPUTS = BUILTIN_INPUTS
"""The modalities of format 1's manifests, each a top-level key of a row: a file path or the text
itself. Any other modality's input is in a row's `files` or `texts` object (see docs/formats.md)."""


def _input(modality: str) -> Any:
    def get(self: Item) -> Any:
        return self.inputs.get(modality)

    def put(self: Item, value: Any) -> None:
        if value is None:
            self.inputs.pop(modality, None)
        else:
            self.inputs[modality] = value

    return property(get, put, doc=f"The {modality} input (`inputs['{modality}']`), None when absent.")


@dataclass(init=False)
class Item:
    """One aligned passage: `inputs` maps each modality it has to its input, a `Path` (absolute
    once read) for a file or the text itself; any subset of modalities may be set, a plugin's
    own among them. `item.audio`, `item.sheet` and `item.lyrics` read and set `inputs` too.

    `song` identifies the song (all versions of one song share it) for splitting; `group`
    marks verbatim repeats inside a song, which evaluation counts as one answer."""

    id: str
    song: str
    split: str | None
    group: str | None
    meta: dict[str, Any]
    inputs: dict[str, Any]

    def __init__(
        self,
        id: str,
        song: str,
        split: str | None = None,
        audio: Path | None = None,
        sheet: Path | None = None,
        lyrics: str | None = None,
        group: str | None = None,
        meta: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        self.id, self.song, self.split, self.group = id, song, split, group
        self.meta = dict(meta or {})
        named = dict(zip(LEGACY_INPUTS, (audio, sheet, lyrics)))
        self.inputs = {m: v for m, v in {**named, **(inputs or {})}.items() if v is not None}

    audio = _input(AUDIO)
    sheet = _input(SHEET)
    lyrics = _input(LYRICS)

    def get(self, modality: str) -> Any:
        """The input of `modality`, None when the item lacks it."""
        return self.inputs.get(modality)

    def has(self, modality: str) -> bool:
        return self.inputs.get(modality) is not None


@dataclass(frozen=True)
class Skipped:
    """A source file a source could not read, with the reason (for the build summary)."""

    path: str
    reason: str


class ScoreSource:
    """A source format of songs with melody and lyrics. Subclass, set `name`, `description`,
    `Options`, `extensions`, and implement `songs`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    extensions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def from_options(cls, values: dict[str, Any] | None = None) -> ScoreSource:
        return cls(opts.build(cls.Options, values, prefix="source"))

    def files(self, paths: Sequence[Path]) -> list[Path]:
        """The source files under `paths` (files or folders), sorted, hidden files skipped."""
        found: list[Path] = []
        for p in paths:
            if p.is_dir():
                found += [
                    f
                    for f in sorted(p.rglob("*"))
                    if f.is_file()
                    and f.suffix.lower() in self.extensions
                    and not any(part.startswith(".") for part in f.relative_to(p).parts)
                ]
            elif p.exists():
                found.append(p)
            else:
                raise InputError(p, "no such file or folder")
        return found

    def read(self, path: Path) -> list[Song]:
        """The songs in one source file; raise `InputError` for a file that cannot be read."""
        raise NotImplementedError

    def songs(self, paths: Sequence[Path]) -> Iterator[Song | Skipped]:
        """Every song under `paths`, with a `Skipped` for each unreadable file."""
        for f in self.files(paths):
            try:
                yield from self.read(f)
            except InputError as exc:
                yield Skipped(str(f), exc.problem)


class ItemSource:
    """Aligned items from a user's own files. Subclass and implement `items`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def from_options(cls, values: dict[str, Any] | None = None) -> ItemSource:
        return cls(opts.build(cls.Options, values, prefix="source"))

    def items(self, path: Path) -> Iterator[Item]:
        """Every item described at `path`; raise `InputError` naming the file and row."""
        raise NotImplementedError


def json_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`FILE:LINE`, object) of each non-blank line of a JSON-lines file; InputError naming the
    line when one is not a JSON object."""
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(where, f"invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InputError(where, "each line must be a JSON object")
            yield where, row


def resolve_inside(root: Path, relative: str, where: str) -> Path:
    """`root / relative`, refusing absolute paths and any path that escapes `root`."""
    rel = Path(relative)
    if rel.is_absolute():
        raise InputError(where, f"path '{relative}' must be relative to the dataset folder")
    full = (root / rel).resolve()
    if not full.is_relative_to(root.resolve()):
        raise InputError(where, f"path '{relative}' points outside the dataset folder")
    return full


def read_dataset_info(root: Path) -> dict[str, Any]:
    """The dataset folder `root`'s `dataset.json` ({} when it has none); InputError when it is not JSON."""
    info = Path(root) / DATASET_INFO
    if not info.is_file():
        return {}
    try:
        return dict(json.loads(info.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise InputError(info, f"invalid JSON ({exc.msg} at line {exc.lineno})") from None


class DatasetFolder:
    """A built dataset folder: `manifest.jsonl` (one passage a line) and `dataset.json`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        manifest = self.root / MANIFEST
        if not manifest.is_file():
            raise InputError(
                self.root, f"not a dataset folder (no {MANIFEST}); build one with 'ugaar-kit dataset build'"
            )
        self.info: dict[str, Any] = read_dataset_info(self.root)
        self.items: list[Item] = list(self._read(manifest))

    def identity(self) -> dict[str, Any]:
        """What names this dataset in a run's `run.json`: its name (`dataset.json`'s, else the
        folder's), source format, songs and passages, and the first 16 hex digits of the SHA-256
        of its manifest (two builds with the same digest have the same items and splits), and for a
        built folder the settings its files were rendered with (`render`: the sheet images' height
        and clef rule, the audio's rate; the manifest does not show them)."""
        import hashlib

        digest = hashlib.sha256()
        with (self.root / MANIFEST).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        out: dict[str, Any] = {"name": str(self.info.get("name") or self.root.resolve().name)}
        for key in ("id", "version", "source_format"):
            if key in self.info:
                out[key] = self.info[key]
        out["songs"] = len({it.song for it in self.items})
        out["passages"] = len(self.items)
        out["manifest_sha256"] = digest.hexdigest()[:16]
        if isinstance(self.info.get("render"), dict):
            out["render"] = self.info["render"]
        return out

    def _read(self, manifest: Path) -> Iterator[Item]:
        for where, row in json_rows(manifest):
            if "id" not in row:
                raise InputError(where, "each line must be a JSON object with an 'id'")
            yield self._item(row, where)

    def _item(self, row: dict[str, Any], where: str) -> Item:
        inputs: dict[str, Any] = {}
        for modality, kind in LEGACY_INPUTS.items():
            value = row.get(modality)
            if value if kind == "file" else value is not None:
                inputs[modality] = value
        for kind, key in (("file", "files"), ("text", "texts")):
            table = row.get(key) or {}
            if not isinstance(table, dict):
                raise InputError(where, f"'{key}' must be an object of modality names to {kind}s")
            inputs.update({str(m): v for m, v in table.items() if v is not None})
        kinds = {**LEGACY_INPUTS, **dict.fromkeys(row.get("files") or {}, "file")}
        for modality, value in inputs.items():
            if kinds.get(modality, "text") == "file":
                inputs[modality] = resolve_inside(self.root, str(value), where)
        known = {"id", "song", "split", "group", "files", "texts", *LEGACY_INPUTS}
        return Item(
            id=str(row["id"]),
            song=str(row.get("song", row["id"])),
            split=row.get("split"),
            group=row.get("group"),
            meta={k: v for k, v in row.items() if k not in known},
            inputs=inputs,
        )

    def split(self, name: str) -> list[Item]:
        """The items of one split (`train`, `valid`, `test`)."""
        return [it for it in self.items if it.split == name]

    def modalities(self) -> tuple[str, ...]:
        """The modalities every item of the folder has, in the order of `inputs_of`."""
        return tuple(m for m in self.inputs_of() if all(it.has(m) for it in self.items))

    def inputs_of(self) -> tuple[str, ...]:
        """Every modality some item of the folder has: the built-in ones in their order, then
        the others sorted."""
        from ugaar_kit.interfaces.modality import canonical_order

        return canonical_order(m for it in self.items for m in it.inputs)


@dataclass(frozen=True)
class WholeSong:
    """A song of a `--whole-songs` build (`songs.jsonl`, docs/formats.md): its recording and
    score pages (absolute paths), the boxes of the systems on each page, and its passages in
    order, each with `id`, `start`/`end` (seconds) and `page`, `system`, `box`, `spans`; and
    per page and system the knots `[x, seconds]` of its noteheads (`clocks`; None in older
    builds)."""

    song: str
    song_id: str
    split: str | None
    audio: Path
    duration: float
    pages: tuple[Path, ...]
    systems: list[list[list[int]]]
    passages: list[dict[str, Any]]
    clocks: list[list[list[list[float]]]] | None = None
    page_clock: str = "boxes"
    """The clock `clock` reads: `notes` (`clocks`) when the build timed its training page windows
    by the noteheads (dataset.json's `build_options.page_clock`), else the passage boxes, so a
    store's page windows are timed as the model's training pairs were."""

    def passage_at(self, seconds: float) -> int:
        """The index of the passage sounding at `seconds` (the last one at or past the end)."""
        return passage_at([(float(p["start"]), float(p["end"])) for p in self.passages], seconds)

    def clock(self, page: int, system: int) -> tuple[list[float], list[float]]:
        """`system_clock` of this song: x on `system` of `page` (1-based) -> seconds, by the
        noteheads or by the passage boxes (`page_clock`)."""
        return system_clock(self.passages, page, system, self.clocks if self.page_clock == "notes" else None)


def system_clock(
    passages: Sequence[Mapping[str, Any]], page: int, system: int, clocks: Sequence[Any] | None = None
) -> tuple[list[float], list[float]]:
    """Knots `(xs, seconds)` mapping x (the page's pixels) on `system` of `page` (1-based) to the
    time it sounds in the song's recording, linear in between (`numpy.interp`): the song's
    `clocks` (songs.jsonl: each notehead at its note's onset, the system's end at the next
    note's) where it has them for that system; else, from a whole song's `passages`, each
    passage's box on that system spanning the part of its time span the box holds (a passage
    over a system break shares its time among its boxes by their widths). Empty when no note
    is printed there."""
    if clocks is not None and 0 < page <= len(clocks) and 0 < system <= len(clocks[page - 1]):
        notes = clocks[page - 1][system - 1]
        if notes:
            return [float(x) for x, _ in notes], [float(t) for _, t in notes]
    knots: list[tuple[float, float]] = []
    for p in passages:
        spans = p.get("spans") or [p]
        widths = [max(1e-6, float(s["box"][2] - s["box"][0])) for s in spans if s.get("box")]
        if len(widths) != len(spans):
            continue
        t, total, length = float(p["start"]), sum(widths), float(p["end"]) - float(p["start"])
        for span, width in zip(spans, widths):
            if span.get("page") == page and span.get("system") == system:
                knots += [(float(span["box"][0]), t), (float(span["box"][2]), t + length * width / total)]
            t += length * width / total
    knots.sort()
    return [x for x, _ in knots], [t for _, t in knots]


def passage_at(spans: Sequence[tuple[float, float]], seconds: float) -> int:
    """The index of the passage sounding at `seconds` among passages laid end to end (`spans`,
    (start, end) in order): the first ending after it, the last one at or past the end."""
    for i, (_start, end) in enumerate(spans):
        if seconds < end:
            return i
    return len(spans) - 1


def read_songs(root: Path) -> list[WholeSong]:
    """The whole songs of the dataset folder `root` (`songs.jsonl`); InputError naming the line
    when one is malformed, or the folder when it has none (built without `--whole-songs`)."""
    root = Path(root)
    path = root / SONGS
    if not path.is_file():
        raise InputError(root, f"no {SONGS}: build the dataset with 'ugaar-kit dataset build --whole-songs'")
    built = read_dataset_info(root).get("build_options") or {}
    page_clock = "notes" if built.get("page_clock") == "notes" else "boxes"
    out = []
    for where, row in json_rows(path):
        try:
            out.append(
                WholeSong(
                    song=str(row["song"]),
                    song_id=str(row["song_id"]),
                    split=row.get("split"),
                    audio=resolve_inside(root, str(row[AUDIO]), where),
                    duration=float(row["duration"]),
                    pages=tuple(resolve_inside(root, str(p), where) for p in row["pages"]),
                    systems=list(row["systems"]),
                    passages=list(row["passages"]),
                    clocks=list(row["clocks"]) if row.get("clocks") is not None else None,
                    page_clock=page_clock,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(where, f"not a whole-song row ({type(exc).__name__}: {exc})") from None
    return out
