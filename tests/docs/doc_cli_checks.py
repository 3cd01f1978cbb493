"""Checks of documented commands against the real CLI: the subcommand exists, its options and
arguments parse, and `-o SLOT.key=value` names an option of the component in that slot.

The app is built with the built-in plugins only (as docs/cli.md is), so a locally installed
third-party plugin cannot make a wrong page pass."""

from __future__ import annotations

import builtins
import functools
import symtable
from collections.abc import Iterable
from typing import Any

import typer
from typer.core import TyperGroup

from ugaar_kit.cli.app import build_app
from ugaar_kit.interfaces.options import describe
from ugaar_kit.registry.components import Registry
from ugaar_kit.registry.discovery import load_registry


class UnknownCommand(Exception):
    """A documented command names no (sub)command of the app."""


@functools.cache
def builtin_registry() -> Registry:
    return load_registry(autoload=False)[0]


@functools.cache
def root_command() -> TyperGroup:
    command = typer.main.get_command(build_app(builtin_registry()))
    assert isinstance(command, TyperGroup)
    return command


def _message(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    return format_message() if callable(format_message) else str(exc)


def resolve(args: Iterable[str]) -> tuple[Any, list[str], list[str]]:
    """The (sub)command `args` names, its path (e.g. ['store', 'merge']) and the remaining words.
    Raises UnknownCommand."""
    command: Any = root_command()
    path: list[str] = []
    rest = list(args)
    while isinstance(command, TyperGroup) and rest and not rest[0].startswith("-"):
        ctx = typer.Context(command)
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            known = ", ".join(command.list_commands(ctx))
            raise UnknownCommand(f"no command 'ugaar-kit {' '.join([*path, rest[0]])}' (known: {known})")
        command, path, rest = sub, [*path, rest.pop(0)], rest
    return command, path, rest


def option_names(command: Any) -> set[str]:
    return {name for p in command.params for name in (*p.opts, *p.secondary_opts) if name.startswith("-")}


def slot_options(registry: Registry, slot: str, name: str | None) -> set[str] | None:
    """Option keys of the component `name` in `slot` (None if no such component); with no name,
    the keys of every component that fits the slot."""
    if slot == "objective":
        comps = registry.all("objective")
    elif slot == "source":
        comps = registry.all("dataset")
    else:
        comps = registry.all("encoder", slot)
    if name is not None:
        comps = [c for c in comps if c.name == name]
        if not comps:
            return None
    return {o.name for c in comps for o in describe(c.options_class)}


def override_problems(pairs: Iterable[str], chosen: dict[str, str | None], registry: Registry) -> list[str]:
    """Problems of `-o SLOT.key=value` pairs, given the component chosen per slot (None: unknown,
    then the key must belong to some component of the slot)."""
    problems = []
    for pair in pairs:
        key, sep, _ = pair.partition("=")
        slot, dot, name = key.partition(".")
        if not sep or not dot:
            problems.append(f"-o {pair}: not SLOT.key=value")
            continue
        component = chosen.get(slot)
        keys = slot_options(registry, slot, component)
        if keys is None:
            problems.append(f"-o {pair}: no {slot} component '{component}'")
        elif name not in keys:
            what = f"{slot} '{component}' has no option" if component else f"no {slot} component has an option"
            problems.append(f"-o {pair}: {what} '{name}'")
    return problems


def parse_problems(args: tuple[str, ...]) -> list[str]:
    """Everything wrong with `ugaar-kit ARGS` short of running it: parse it as click would (types,
    required options, registry-checked component names) and check its `-o` keys."""
    try:
        command, path, rest = resolve(args)
        ctx = command.make_context(" ".join(["ugaar-kit", *path]), list(rest), resilient_parsing=False)
    except typer.Exit:  # --help, --version
        return []
    except (UnknownCommand, typer.TyperException) as exc:
        return [_message(exc)]
    registry = builtin_registry()
    values = ctx.params
    if path == ["train"]:
        chosen: dict[str, str | None] = {}
        for m in ("audio", "sheet", "lyrics"):
            default = registry.default_encoder(m)
            chosen[m] = values.get(m) or (default.name if default else None)
        chosen["objective"] = values.get("objective")
        return override_problems(values.get("option") or (), chosen, registry)
    if path == ["dataset", "build"]:
        return override_problems(values.get("option") or (), {"source": values.get("format")}, registry)
    return []


def option_name_problems(args: tuple[str, ...]) -> list[str]:
    """For a command mentioned in prose (placeholders allowed): the subcommand exists and every
    `--option` word is one it accepts."""
    try:
        command, path, rest = resolve(args)
    except UnknownCommand as exc:
        return [str(exc)]
    known = option_names(command)
    return [
        f"'ugaar-kit {' '.join(path)}' has no option {word}"
        for word in rest
        if word.startswith("-") and len(word) > 1 and word.split("=")[0] not in known
    ]


def free_names(code: str) -> set[str]:
    """Names a snippet reads but never binds (imports, assignments, defs, parameters) and that are
    not builtins: what a reader would have to supply."""
    top = symtable.symtable(code, "<snippet>", "exec")
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    bound |= {t.get_name() for t in top.get_children()}
    free: set[str] = set()

    def walk(table: symtable.SymbolTable) -> None:
        for sym in table.get_symbols():
            name = sym.get_name()
            if not sym.is_referenced() or name in bound or hasattr(builtins, name):
                continue
            if table is top or sym.is_global():
                free.add(name)
        for child in table.get_children():
            walk(child)

    walk(top)
    return free


def batch_problem(config: Any, world_size: int = 1) -> str | None:
    """Whether a training config's batch suits its objective, as `train` checks it before any
    work (deep CCA needs more rows than the encoders' output width): the message, or None."""
    import torch

    from ugaar_kit.errors import UgaarError
    from ugaar_kit.training.assemble import auto_batch_size, check_batch_size, plan_run

    plan = plan_run(config, builtin_registry())
    with torch.random.fork_rng():
        dims = {m: enc.output_dim for m, enc in plan.build_encoders().items()}
    objective = plan.build_objective(dims)
    batch = config.settings.batch_size or auto_batch_size(objective, world_size)
    try:
        check_batch_size(objective, batch * world_size)
    except UgaarError as exc:
        return str(exc)
    return None


def train_config(args: tuple[str, ...]) -> Any:
    """The RunConfig `ugaar-kit train ARGS` would start from (its flags, names and `-o`)."""
    from ugaar_kit.interfaces.options import parse_overrides
    from ugaar_kit.runfolder.config import RunConfig, load_config, merge

    command, path, rest = resolve(args)
    assert path == ["train"], args
    values = command.make_context("ugaar-kit train", list(rest)).params
    slots = ("audio", "sheet", "lyrics", "objective")
    base = load_config(values["config"], slots) if values.get("config") else RunConfig()
    settings = {"batch_size": values.get("batch_size"), "epochs": values.get("epochs")}
    names = {s: values.get(s) for s in slots}
    return merge(base, settings, names, parse_overrides(values.get("option") or ()))
