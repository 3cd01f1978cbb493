"""Typed, validated options for components, from `-o SLOT.key=value` strings or TOML values.

A component declares its options as a dataclass whose fields carry a default and a help line
(made with :func:`option`). :func:`build` turns user values into an instance, naming the key
in every error; :func:`describe` lists the fields for `ugaar-kit plugins show`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from ugaar_kit.errors import OptionError
from ugaar_kit.interfaces.modality import MODALITIES

SLOTS = (*MODALITIES, "objective")
"""Slots that `-o SLOT.key=value` may address; plugins bringing a new modality add its name."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

T = TypeVar("T")


def option(default: Any, help: str, *, min: float | None = None, max: float | None = None) -> Any:
    """A dataclass field with a default, a one-line help text and an optional numeric range."""
    return dataclasses.field(default=default, metadata={"help": help, "min": min, "max": max})


class Seconds(float):
    """A duration in seconds. As an option it reads a number of seconds or `90s`, `15m`, `2h`,
    `1h30m`, `1h 30m 10s` (Lightning's `max_time` reads `DD:HH:MM:SS`; these are what people
    type); it must be finite and above zero."""


_DURATION = re.compile(r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?")


def parse_duration(text: str | float | int) -> Seconds:
    """Seconds from `900`, `90s`, `15m`, `1h30m` or `1h 30m 10s`; ValueError for anything else,
    for zero or negative durations, NaN and infinity."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        compact = str(text).strip().lower().replace(" ", "")
        try:
            seconds = float(compact)
        except ValueError:
            match = _DURATION.fullmatch(compact)
            if not compact or match is None or not any(match.groupdict().values()):
                raise ValueError(f"{text!r} is not a duration (e.g. 900, 90s, 15m, 1h30m)") from None
            parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
            seconds = parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{text!r} is not a duration above zero")
    return Seconds(seconds)


def format_duration(seconds: float) -> str:
    """`15m00s`, `1h30m00s`, `42.0s`: a duration as people read it (`parse_duration` reads it)."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, sec = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s"


@dataclass(frozen=True)
class NoOptions:
    """The options of a component that takes none."""


@dataclass(frozen=True)
class OptionInfo:
    """One option as `plugins show` prints it."""

    name: str
    type: str
    default: Any
    help: str


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def type_name(tp: Any) -> str:
    """A short readable name for an option's type: `int`, `float | None`, `'sum' | 'maxvar'`."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "None"
    if tp is Seconds:
        return "duration"
    return getattr(tp, "__name__", str(tp))


def describe(cls: type) -> list[OptionInfo]:
    """The options of an options dataclass, in declaration order."""
    hints = _hints(cls)
    return [
        OptionInfo(f.name, type_name(hints[f.name]), f.default, f.metadata.get("help", ""))
        for f in dataclasses.fields(cls)
    ]


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a string (from the command line) or a TOML value to `tp`, or raise OptionError."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in ("none", "null", ""))):
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except OptionError as exc:
                errors.append(str(exc))
        if len(errors) == 1:  # `X | None`: X's own reason ("not a finite number")
            raise OptionError(errors[0])
        raise OptionError(f"option '{where}': {value!r} is not {type_name(tp)}")
    if origin is Literal:
        choices = typing.get_args(tp)
        for choice in choices:
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        raise OptionError(f"option '{where}': {value!r} is not one of {', '.join(map(repr, choices))}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise OptionError(f"option '{where}': {value!r} is not a boolean (true/false)")
    if tp is int:
        if isinstance(value, bool):
            raise OptionError(f"option '{where}': {value!r} is not an integer")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise OptionError(f"option '{where}': {value!r} is not an integer") from None
    if tp is Seconds:
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise OptionError(f"option '{where}': {exc}") from None
    if tp is float:
        if isinstance(value, bool):
            raise OptionError(f"option '{where}': {value!r} is not a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise OptionError(f"option '{where}': {value!r} is not a number") from None
        if not math.isfinite(number):
            raise OptionError(f"option '{where}': {value!r} is not a finite number")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        raise OptionError(f"option '{where}': {value!r} is not a string")
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise OptionError(f"option '{where}': {value!r} is not a path")
    if origin is tuple or origin is list:
        (item_tp, *_) = typing.get_args(tp) or (str,)
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(_coerce(v.strip() if isinstance(v, str) else v, item_tp, where) for v in items if v != "")
    raise OptionError(f"option '{where}': unsupported option type {type_name(tp)}")


def upgrade(cls: type, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """`values` with the options dataclass's `LEGACY` values filled in when they are a complete
    record from before those options existed: every other field given, none of the legacy
    ones (a saved run's options). Partial values (a user's) are left alone.

    `LEGACY` is one mapping, or a sequence of them, oldest first, when options were added at
    several versions: a record is upgraded through every generation it predates."""
    out = dict(values or {})
    legacy = getattr(cls, "LEGACY", None) or {}
    generations: list[Mapping[str, Any]] = [legacy] if isinstance(legacy, Mapping) else list(legacy)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for i, generation in enumerate(generations):
        if any(k in out for k in generation):
            continue
        others = names - {k for later in generations[i:] for k in later}
        if others and others <= set(out):
            out.update(generation)
    return out


def build(cls: type[T], values: Mapping[str, Any] | None = None, *, prefix: str = "") -> T:
    """An instance of options dataclass `cls` from `values`; unknown keys and bad values raise.

    `prefix` (e.g. `audio`) is used in messages so they name the key as the user wrote it.
    """
    values = upgrade(cls, values)
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        known = ", ".join(fields) or "none"
        raise OptionError(f"unknown option '{key}' (known: {known})")
    kwargs = {}
    for name, value in values.items():
        where = f"{prefix}.{name}" if prefix else name
        coerced = _coerce(value, hints[name], where)
        meta = fields[name].metadata
        if isinstance(coerced, (int, float)) and not isinstance(coerced, bool):
            if meta.get("min") is not None and coerced < meta["min"]:
                raise OptionError(f"option '{where}': {coerced} is below the minimum {meta['min']}")
            if meta.get("max") is not None and coerced > meta["max"]:
                raise OptionError(f"option '{where}': {coerced} is above the maximum {meta['max']}")
        kwargs[name] = coerced
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise OptionError(f"options for '{prefix or cls.__name__}': {exc}") from None


def to_dict(options: Any) -> dict[str, Any]:
    """Plain JSON/TOML-friendly values of an options instance (paths as strings, tuples as lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, float):
            value = float(value)  # a plain float, not a subclass (Seconds): checkpoints load with weights_only
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def parse_overrides(pairs: Iterable[str], slots: Iterable[str] = SLOTS) -> dict[str, dict[str, str]]:
    """Split `-o SLOT.key=value` strings into {slot: {key: value}}, refusing malformed ones."""
    allowed = tuple(slots)
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        slot, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise OptionError(f"option '{pair}': expected SLOT.key=value, e.g. audio.n_mels=128")
        if slot not in allowed:
            raise OptionError(f"option '{pair}': unknown slot '{slot}' (known: {', '.join(allowed)})")
        out.setdefault(slot, {})[name] = value.strip()
    return out


def parse_choices(
    pairs: Iterable[str], modalities: Iterable[str], given: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """`--encoder MODALITY=NAME` strings as {modality: name}, refusing malformed ones, unknown
    modalities, and a modality chosen twice (here or in `given`, e.g. by `--audio`)."""
    allowed = tuple(modalities)
    out: dict[str, str] = {}
    for pair in pairs:
        modality, sep, name = (part.strip() for part in pair.partition("="))
        if not sep or not modality or not name:
            raise OptionError(f"--encoder '{pair}': expected MODALITY=NAME, e.g. audio=cnn")
        if modality not in allowed:
            raise OptionError(
                f"--encoder '{pair}': no installed encoder handles '{modality}' (modalities: {', '.join(allowed)})"
            )
        earlier = out.get(modality) or (given or {}).get(modality)
        if earlier is not None and earlier != name:
            raise OptionError(f"--encoder '{pair}': the {modality} encoder is already chosen ('{earlier}')")
        out[modality] = name
    return out
