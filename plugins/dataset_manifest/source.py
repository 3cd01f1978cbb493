"""The `manifest` item source: a user's own aligned audio, sheet images and lyrics.

A CSV, TSV or JSONL manifest, one passage a row, with the columns

    id      optional; default: the row's line number in the file
    song    optional; default: the id. Rows of one song always land in the same split
    split   optional; train, valid or test (default: assigned by song when writing a folder)
    audio   an audio file, relative to the manifest's folder
    sheet   a sheet image, relative to the manifest's folder
    lyrics  the lyrics text, or a .txt file (relative path ending in .txt) holding them
    file:NAME  a file of a plugin's modality NAME (e.g. `file:midi`), relative to the folder
    text:NAME  the text input of a plugin's modality NAME

and at least two modalities in every row; other columns are kept as metadata.
Every row is checked before any item is yielded, and every problem names the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ugaar_kit.data.media import read_text
from ugaar_kit.errors import InputError
from ugaar_kit.interfaces.dataset import SPLITS, Item, ItemSource, resolve_inside
from ugaar_kit.interfaces.modality import MODALITIES
from ugaar_kit.interfaces.options import option

from .rows import Row, RowProblem, read_rows

RESERVED = ("id", "song", "split", "group", *MODALITIES)
PREFIXES = ("file:", "text:")
"""Columns of a plugin's modality: `file:NAME` (a path) or `text:NAME` (the text)."""
MODALITY_NAME = re.compile(r"[a-z][a-z0-9_]*")
MAX_LYRICS_BYTES = 1 << 20
SHOWN_PROBLEMS = 5


class ManifestError(InputError):
    """Every problem of a manifest: `problems` holds `(line, message)` pairs, in file order;
    the message names the first and counts (and shows a few of) the others, on one line."""

    def __init__(self, path: Path, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        line, first = problems[0]
        rest = problems[1:]
        message = first
        if rest:
            shown = "; ".join(f"line {ln}: {p}" for ln, p in rest[:SHOWN_PROBLEMS])
            more = f"; and {len(rest) - SHOWN_PROBLEMS} more" if len(rest) > SHOWN_PROBLEMS else ""
            message = f"{first} ({len(rest)} more problem{'s' if len(rest) > 1 else ''}: {shown}{more})"
        super().__init__(f"{path}:{line}", message)


@dataclass(frozen=True)
class ManifestOptions:
    language: str = option("en", "Language of the lyrics, for the normalizer (en, de, ...).")
    valid_fraction: float = option(
        0.1, "Share of songs put in the valid split when the manifest names no split.", min=0.0, max=0.5
    )
    test_fraction: float = option(
        0.1, "Share of songs put in the test split when the manifest names no split.", min=0.0, max=0.5
    )
    seed: int = option(0, "Seed of the split assignment by song.")


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"expected text, got {type(value).__name__}")
    text = str(value).strip()
    return text or None


def _read_lyrics_file(path: Path) -> str:
    try:
        return read_text(path, MAX_LYRICS_BYTES)
    except InputError as exc:
        raise ValueError(f"lyrics file '{path.name}': {exc.problem}") from None


class ManifestSource(ItemSource):
    """Aligned items listed in a CSV/TSV/JSONL manifest (paths relative to its folder)."""

    name = "manifest"
    description = "Your own aligned audio / sheet images / lyrics, listed in a CSV, TSV or JSONL manifest."
    Options = ManifestOptions

    def write_folder(self, path: Path, out: Path) -> dict:
        """Read the manifest at `path` and write it as a dataset folder at `out` (splits by song
        with this source's fractions and seed); returns the folder's `dataset.json` contents."""
        from ugaar_kit.build.items import write_dataset_folder

        o: ManifestOptions = self.options
        fractions = (1.0 - o.valid_fraction - o.test_fraction, o.valid_fraction, o.test_fraction)
        return write_dataset_folder(
            self.read(path), out, fractions=fractions, seed=o.seed, language=o.language, source=self.name
        )

    def items(self, path: Path) -> Iterator[Item]:
        """Every row as an Item with absolute paths; raises ManifestError listing every bad row
        before yielding anything."""
        yield from self.read(path)

    def read(self, path: Path) -> list[Item]:
        """All items of the manifest at `path` (see `items`)."""
        path = Path(path)
        root = path.parent
        problems: list[tuple[int, str]] = []
        items: list[Item] = []
        first_line: dict[str, int] = {}
        song_split: dict[str, tuple[str, int]] = {}
        for row in read_rows(path):
            if isinstance(row, RowProblem):
                problems.append((row.line, row.problem))
                continue
            item, row_problems = self._item(row, root, f"{path}:{row.line}")
            problems += [(row.line, p) for p in row_problems]
            if item is None:
                continue
            if item.id in first_line:
                problems.append((row.line, f"id '{item.id}' is already used on line {first_line[item.id]}"))
                continue
            first_line[item.id] = row.line
            if item.split is not None:
                seen = song_split.setdefault(item.song, (item.split, row.line))
                if seen[0] != item.split:
                    problems.append(
                        (
                            row.line,
                            f"song '{item.song}' is in split '{item.split}' here but '{seen[0]}' on line {seen[1]}",
                        )
                    )
            items.append(item)
        if problems:
            raise ManifestError(path, sorted(problems, key=lambda p: p[0]))
        if not items:
            raise InputError(path, "the manifest lists no items")
        return items

    def _item(self, row: Row, root: Path, where: str) -> tuple[Item | None, list[str]]:
        problems: list[str] = []
        values: dict[str, str | None] = {}
        for key in RESERVED:
            try:
                values[key] = _as_text(row.values.get(key))
            except ValueError as exc:
                problems.append(f"column '{key}': {exc}")
                values[key] = None
        item_id = values["id"] or str(row.line)
        split = values["split"]
        if split is not None and split not in SPLITS:
            problems.append(f"split '{split}' is not one of {', '.join(SPLITS)}")
        paths: dict[str, Path | None] = {"audio": None, "sheet": None}
        for modality in paths:
            rel = values[modality]
            if rel is None:
                continue
            try:
                full = resolve_inside(root, rel, where)
            except InputError as exc:
                problems.append(f"{modality} {exc.problem}")
                continue
            if not full.is_file():
                problems.append(f"{modality} file '{rel}' does not exist")
                continue
            paths[modality] = full
        lyrics = values["lyrics"]
        if lyrics is not None and lyrics.lower().endswith(".txt"):
            try:
                file = resolve_inside(root, lyrics, where)
                if not file.is_file():
                    raise ValueError(f"lyrics file '{lyrics}' does not exist")
                lyrics = _read_lyrics_file(file).strip() or None
                if lyrics is None:
                    raise ValueError(f"lyrics file '{values['lyrics']}' is empty")
            except InputError as exc:
                problems.append(f"lyrics {exc.problem}")
                lyrics = None
            except ValueError as exc:
                problems.append(str(exc))
                lyrics = None
        others = self._other_inputs(row, root, where, problems)
        given = [m for m in MODALITIES if values[m] is not None] + list(others)
        if len(given) < 2:
            have = ", ".join(given) or "none"
            problems.append(f"needs at least two of audio, sheet, lyrics or a file:/text: column (has {have})")
        if problems:
            return None, problems
        meta = {k: v for k, v in row.values.items() if k not in RESERVED and not k.startswith(PREFIXES)}
        meta["manifest_line"] = row.line
        item = Item(
            id=item_id,
            song=values["song"] or item_id,
            split=split,
            audio=paths["audio"],
            sheet=paths["sheet"],
            lyrics=lyrics,
            group=values["group"],
            meta=meta,
            inputs=others,
        )
        return item, []

    def _other_inputs(self, row: Row, root: Path, where: str, problems: list[str]) -> dict[str, Any]:
        """The `file:NAME` and `text:NAME` columns of a row: NAME's file (checked) or text."""
        out: dict[str, Any] = {}
        for key, raw in row.values.items():
            if not key.startswith(PREFIXES):
                continue
            kind, name = key.split(":", 1)
            if not MODALITY_NAME.fullmatch(name) or name in MODALITIES:
                problems.append(
                    f"column '{key}': '{name}' is not a plugin modality name (lower case letters, digits, _)"
                )
                continue
            try:
                value = _as_text(raw)
            except ValueError as exc:
                problems.append(f"column '{key}': {exc}")
                continue
            if value is None:
                continue
            if kind == "text":
                out[name] = value
                continue
            try:
                full = resolve_inside(root, value, where)
            except InputError as exc:
                problems.append(f"{name} {exc.problem}")
                continue
            if not full.is_file():
                problems.append(f"{name} file '{value}' does not exist")
                continue
            out[name] = full
        return out
