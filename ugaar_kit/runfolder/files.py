"""The files of a run folder, its id, `run.json` and the `metrics.jsonl` log.

RUN/config.toml     resolved config: `ugaar-kit train --config RUN/config.toml` repeats the run
RUN/run.json        run id, tool and plugin versions, data path, modalities, dims, status
RUN/metrics.jsonl   one JSON row per epoch
RUN/curves.png      losses and validation MRR per epoch
RUN/last.pt         latest state with optimizers and RNG (for --resume)
RUN/best.pt         state of the epoch with the best mean validation MRR
RUN/model.pt        the final model: best state, then `objective.fit` on the training split
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ugaar_kit.errors import InputError, OptionError
from ugaar_kit.infra.atomic import atomic_open, write_text

CONFIG = "config.toml"
INFO = "run.json"
METRICS = "metrics.jsonl"
CURVES = "curves.png"
LAST = "last.pt"
BEST = "best.pt"
MODEL = "model.pt"


def new_run_id() -> str:
    """`YYYYmmdd-HHMMSS-<8 hex>`: sortable by time and unique."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{now}-{uuid.uuid4().hex[:8]}"


def write_json(data: Mapping[str, Any], path: Path) -> None:
    """Write JSON atomically (temporary file, fsync, rename)."""
    with atomic_open(path, "w") as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.write("\n")


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object")
    return data


def append_row(path: Path, row: Mapping[str, Any]) -> None:
    """Append one JSON line and fsync it."""
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, default=_plain) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics log (an absent file has none); a bad line raises InputError."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}", f"invalid JSON ({exc.msg})") from None
    return rows


def keep_rows_until(path: Path, epoch: int) -> list[dict[str, Any]]:
    """Drop rows after `epoch` (written after the checkpoint a resumed run restarts from)."""
    rows = [r for r in read_rows(path) if int(r.get("epoch", 0)) <= epoch]
    write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def embed_window(audio_paths: list[Path], sample: int = 400) -> dict[str, float] | None:
    """The window `embed` cuts long recordings into, from the training passages' durations:
    their median rounded to half a second (1 to 30 s), hopping by half of it. None without audio."""
    import statistics

    import soundfile

    step = max(1, len(audio_paths) // sample)
    durations = []
    for path in audio_paths[::step]:
        try:
            durations.append(soundfile.info(str(path)).duration)
        except (RuntimeError, OSError):
            continue
    if not durations:
        return None
    window = min(30.0, max(1.0, round(statistics.median(durations) * 2) / 2))
    return {"window": window, "hop": window / 2, "from_passages": len(durations)}


def open_for_training(out: Path, resume: bool, *, main: bool, say: Callable[[str], None]) -> tuple[Path | None, str]:
    """Check `out` for a new run or a resumed one: the checkpoint to resume from (None: start
    from the beginning) and the run's id. OptionError, naming the fix, when `out` holds a run
    that is not resumed, or anything else."""
    info_path = out / INFO
    if resume and (out / LAST).is_file():
        return out / LAST, ""
    if resume:
        # stopped before its first epoch ended: nothing to restore, so start it again
        say(f"{out}: no epoch was finished; starting the run from the beginning")
        old = read_json(info_path) if info_path.is_file() else {}
        if main:
            (out / METRICS).unlink(missing_ok=True)
            (out / BEST).unlink(missing_ok=True)
        return None, str(old.get("run_id") or new_run_id())
    if info_path.exists():
        status = read_json(info_path).get("status", "running") if info_path.is_file() else "running"
        if status != "finished" and not (out / LAST).is_file():
            raise OptionError(
                f"{out} holds a run that stopped before its first epoch ended (status '{status}', no "
                f"{LAST}): --resume {out} starts it again, or choose another --out"
            )
        raise OptionError(f"{out} already holds a run: continue it with --resume {out} or choose another --out")
    if out.is_dir() and any(out.iterdir()):
        raise OptionError(f"{out} is not empty: give a new folder to --out")
    if out.exists() and not out.is_dir():
        raise OptionError(f"{out} is a file: give a new folder to --out")
    return None, new_run_id()


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def mark_finished(out: Path, **fields: Any) -> None:
    """`run.json` of a finished run: `status: finished`, the time, then `fields`."""
    info = read_json(out / INFO)
    info.update({"status": "finished", "finished": utc_now(), **fields})
    write_json(info, out / INFO)


def epoch_line(row: Mapping[str, Any], epochs_label: str, budget: str = "") -> str:
    """The line an epoch's end prints: its loss terms, validation MRR per direction, whether it
    is the best, the budget spent (`budget`, empty without one) and its seconds."""
    parts = [f"epoch {row['epoch']}/{epochs_label}"]
    parts += [f"{k} {v:.4g}" for k, v in row["train"].items()]
    if "valid_mrr" in row:
        parts.append(valid_mrr_line(row))
    if "valid_score" in row:
        parts.append(f"selected {row['valid_score']:.4f}")
    if row.get("best"):
        parts.append("best")
    if budget:
        parts.append(budget)
    parts.append(f"{row['seconds']:.1f} s")
    return "  ".join(parts)


def valid_mrr_line(row: Mapping[str, Any]) -> str:
    """`valid MRR 0.4123 (audio->sheet 0.512, ...)` for a row with validation metrics."""
    dirs = ", ".join(f"{d} {v.get('MRR', float('nan')):.3f}" for d, v in row["valid"].items())
    return f"valid MRR {row['valid_mrr']:.4f} ({dirs})"
