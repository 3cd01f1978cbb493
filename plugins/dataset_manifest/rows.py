"""Reading a user's manifest (CSV, TSV or JSONL) into rows, each with the line it came from."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ugaar_kit.errors import InputError

MAX_BYTES = 256 * 1024 * 1024
_EXTRA = "\0extra"  # where csv puts cells beyond the header


@dataclass(frozen=True)
class Row:
    """One manifest row: `line` is its line number in the file (a CSV header is line 1)."""

    line: int
    values: dict[str, Any]


class RowProblem(Exception):
    """A row that cannot be read at all (bad JSON, too many cells): collected, not raised."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


def manifest_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise InputError(path, f"unknown manifest type '{suffix}' (use .csv, .tsv or .jsonl)")


def _text(path: Path) -> str:
    if not path.is_file():
        raise InputError(path, "no such file" if not path.exists() else "not a file")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(path, f"larger than {MAX_BYTES // 2**20} MB; split the manifest")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text (byte offset {exc.start})") from None


def read_rows(path: Path) -> Iterator[Row | RowProblem]:
    """Every non-empty row of the manifest, or a RowProblem for one that cannot be parsed."""
    kind = manifest_kind(path)
    text = _text(path)
    if kind == "jsonl":
        for line, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield RowProblem(line, f"invalid JSON ({exc.msg})")
                continue
            if not isinstance(value, dict):
                yield RowProblem(line, "each line must be a JSON object")
                continue
            yield Row(line, value)
        return
    reader = csv.DictReader(text.splitlines(keepends=True), delimiter="\t" if kind == "tsv" else ",", restkey=_EXTRA)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise InputError(f"{path}:1", f"unreadable CSV header ({exc})") from None
    if not header:
        raise InputError(path, "empty manifest (no header row)")
    clean = [h.strip() for h in header]
    duplicates = sorted({h for h in clean if clean.count(h) > 1})
    if duplicates:
        raise InputError(f"{path}:1", f"column '{duplicates[0]}' appears twice in the header")
    reader.fieldnames = clean
    try:
        for values in reader:
            line = reader.line_num
            if _EXTRA in values:
                cells = len(clean) + len(values[_EXTRA])
                yield RowProblem(line, f"{cells} cells but the header has {len(clean)} columns")
                continue
            if all(v is None or not str(v).strip() for v in values.values()):
                continue
            yield Row(line, {k: v for k, v in values.items() if v is not None and str(v).strip() != ""})
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}", f"unreadable CSV ({exc})") from None
