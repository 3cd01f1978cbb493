"""What `embed` is told and what it reports: settings, summary, shards, the window, the routes
from file extensions to modalities, and the run config the store records."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.interfaces.encoder import Encoder
from ugaar_kit.interfaces.objective import Objective

DEFAULT_WINDOW = 5.0
"""Seconds of audio per row when neither the command nor the run says (FINDINGS: the median
training passage lasts 4.75 s)."""
DEFAULT_HOP = 2.5


class TrainedModel(Protocol):
    """What embedding needs of a trained run: `ugaar_kit.Run` is one. Optional attributes are read
    when present: `info` (`run.json`: the window), `state` or `config` (recorded in the store),
    `device`."""

    @property
    def encoders(self) -> Mapping[str, Encoder]: ...

    @property
    def objective(self) -> Objective: ...

    @property
    def modalities(self) -> Sequence[str]: ...

    @property
    def run_id(self) -> str: ...


@dataclass(frozen=True)
class EmbedSettings:
    """How `embed_paths` cuts, batches and resumes (None: from the run, else the defaults)."""

    window: float | None = None
    hop: float | None = None
    batch_size: int = 64
    workers: int = 0
    shard: tuple[int, int] | None = None
    refresh: bool = False
    strict: bool = False
    modality: str | None = None
    fold_rows: int | None = None


@dataclass
class EmbedSummary:
    """What an embed did; `exit_code` is 0 when nothing was skipped, else 1."""

    window: float = DEFAULT_WINDOW
    hop: float = DEFAULT_HOP
    files: int = 0
    rows: int = 0
    already: int = 0
    refreshed: int = 0
    changed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0
    other_shards: int = 0
    audio_seconds: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0


def parse_shard(text: str) -> tuple[int, int]:
    """`"K/N"` -> (K, N) with 1 <= K <= N."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise OptionError(f"--shard {text!r}: expected K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise OptionError(f"--shard {text!r}: K must be between 1 and N")
    return k, n


def shard_of(source: str, n: int) -> int:
    """The shard (1..n) of a file: a hash of its source path, the same on every machine."""
    digest = hashlib.sha1(source.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def window_defaults(run: TrainedModel) -> tuple[float, float]:
    """(window, hop) in seconds: `run.json`'s `embed` table when the run records one, else
    5 s and 2.5 s."""
    try:
        info = getattr(run, "info", None)
    except InputError:
        info = None
    table = info.get("embed") if isinstance(info, Mapping) else None
    if isinstance(table, Mapping) and table.get("window") is not None:
        window = float(table["window"])
        return window, float(table.get("hop") or window / 2)
    return DEFAULT_WINDOW, DEFAULT_HOP


def resolve_window(run: TrainedModel, window: float | None, hop: float | None) -> tuple[float, float]:
    """The window and hop to use: given values, else the run's, else the defaults; a window
    given without a hop hops by half of it."""
    if window is None:
        w, h = window_defaults(run)
        window, hop = w, hop if hop is not None else h
    elif hop is None:
        hop = window / 2 if window > 0 else DEFAULT_HOP
    if window < 0:
        raise OptionError(f"--window {window}: must be at least 0 (0 embeds whole files)")
    if hop <= 0:
        raise OptionError(f"--hop {hop}: must be more than 0")
    return float(window), float(hop)


def extension_routes(run: TrainedModel) -> dict[str, str]:
    """Suffix (lower case, with the dot) -> modality, from the run's encoders' `extensions`."""
    routes: dict[str, str] = {}
    for m in run.modalities:
        enc = run.encoders[m]
        for ext in tuple(getattr(enc, "extensions", ()) or ()):
            routes.setdefault(ext.lower(), m)
    return routes


def run_config_json(run: TrainedModel) -> str:
    """The run's config as JSON, for the store's `config` attribute."""
    state = getattr(run, "state", None)
    config = state.get("config") if isinstance(state, Mapping) else None
    if config is None:
        config = getattr(run, "config", {})
        from ugaar_kit.runfolder.config import RunConfig, to_toml_dict

        if isinstance(config, RunConfig):
            config = to_toml_dict(config)
        elif dataclasses.is_dataclass(config) and not isinstance(config, type):
            config = dataclasses.asdict(config)
    return json.dumps(config, sort_keys=True, default=str)
