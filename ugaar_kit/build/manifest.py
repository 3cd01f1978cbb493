"""The dataset folder's index: `manifest.jsonl` rows (one passage each) and `dataset.json`.

A row holds `id`, `song` (the song's version group: every file of one song shares it, the key
splits use), `song_id` (the source's id), `split`, `audio`, `sheet`, `audio_versions` (paths
relative to the folder), `lyrics` (normalized), `lyrics_raw`, `group` (the id of the first
verbatim occurrence of the passage in its song), `notes` (`[pitch, onset_s, duration_s]`, the
audio's timing), `syllables` (`[text, note index]`), `syllable_count`, and the song's `title`,
`source` and metadata. `DatasetFolder` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ugaar_kit.build.files import write_atomic
from ugaar_kit.interfaces.dataset import DATASET_INFO, MANIFEST, SONGS

FORMAT_VERSION = 1


def write_manifest(out: Path, rows: Iterable[dict[str, Any]]) -> None:
    """`out/manifest.jsonl`, written atomically."""
    text = "".join(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n" for row in rows)
    write_atomic(out / MANIFEST, text.encode("utf-8"))


def write_songs(out: Path, rows: Iterable[dict[str, Any]]) -> None:
    """`out/songs.jsonl` (whole songs, `--whole-songs`), written atomically."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    write_atomic(out / SONGS, text.encode("utf-8"))


def write_info(out: Path, info: dict[str, Any]) -> None:
    """`out/dataset.json` (format version first), written atomically."""
    data = {"format_version": FORMAT_VERSION, **info}
    write_atomic(out / DATASET_INFO, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def read_info(out: Path) -> dict[str, Any]:
    """`out/dataset.json` as written before, or {} if absent or unreadable."""
    try:
        data = json.loads((out / DATASET_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
