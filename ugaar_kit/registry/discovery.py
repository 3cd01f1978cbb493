"""Plugin discovery: load every entry point of the group `ugaar_kit`, call its hooks, fill a Registry.

The built-in plugins are entry points of the `ugaar-kit` distribution itself, found the same way
as a third party's. Each entry point is loaded and called on its own: one that fails to import,
has a malformed hook, or registers a taken name is reported in one line naming its distribution
and skipped, and the rest go on. Environment variables:

- `UGAAR_KIT_STRICT_PLUGINS=1`: raise on the first such problem instead.
- `UGAAR_KIT_DISABLE_PLUGIN_AUTOLOAD=1`: load only the built-in plugins.
- `UGAAR_KIT_BLOCK_PLUGINS=a,b`: skip the entry points or distributions named.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from ugaar_kit.errors import PluginError
from ugaar_kit.infra import envvars
from ugaar_kit.registry import hookspecs
from ugaar_kit.registry.components import DISTRIBUTION, Registry

GROUP = "ugaar_kit"
BUILTIN_DISTRIBUTION = DISTRIBUTION
REGISTER_HOOKS = ("register_encoders", "register_objectives", "register_datasets", "register_baselines")
HOOK_OF_KIND = dict(zip(("encoder", "objective", "dataset", "baseline"), REGISTER_HOOKS))


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin: its entry-point name and the distribution that provides it."""

    name: str
    distribution: str
    version: str


def _dist(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown", ""
    return dist.metadata["Name"] or dist.name, dist.version


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-")


class PluginLoader:
    """Loads plugin modules into a pluggy manager and registers their components."""

    def __init__(self, strict: bool | None = None, autoload: bool | None = None) -> None:
        self.strict = envvars.flag(envvars.STRICT_PLUGINS) if strict is None else strict
        self.autoload = not envvars.flag(envvars.DISABLE_PLUGIN_AUTOLOAD) if autoload is None else autoload
        self.blocked = {_normalise(b) for b in envvars.names(envvars.BLOCK_PLUGINS)}
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self.registry = Registry()

    def problem(self, message: str, skipped: bool = True) -> None:
        """A broken plugin: skipped with a warning, or, under UGAAR_KIT_STRICT_PLUGINS, an error."""
        if self.strict:
            raise PluginError(f"{message} (UGAAR_KIT_STRICT_PLUGINS is set: stopping)")
        self.registry.add_problem(f"{message}; skipped" if skipped else message)

    def add_plugin(self, module: Any, name: str, distribution: str, version: str = "") -> None:
        """Register one plugin object (a module or class holding hook implementations)."""
        try:
            self.pm.register(module, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self.problem(f"plugin '{name}' from {distribution}: invalid hook ({exc})")
            return
        self.info[name] = PluginInfo(name, distribution, version)

    def load_entry_points(self) -> None:
        for ep in sorted(entry_points(group=GROUP), key=lambda e: (_dist(e)[0] != BUILTIN_DISTRIBUTION, e.name)):
            distribution, version = _dist(ep)
            if not self.autoload and distribution != BUILTIN_DISTRIBUTION:
                continue
            if _normalise(ep.name) in self.blocked or _normalise(distribution) in self.blocked:
                continue
            if ep.name in self.info:
                self.problem(
                    f"plugin '{ep.name}' from {distribution}: the name is taken by {self.info[ep.name].distribution}"
                )
                continue
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure of a plugin is reported
                self.problem(f"plugin '{ep.name}' from {distribution} failed to load: {type(exc).__name__}: {exc}")
                continue
            self.add_plugin(module, ep.name, distribution, version)

    def check_hooks(self) -> None:
        """Unregister (or raise for) plugins whose hooks match no spec, e.g. a misspelt name."""
        while True:
            try:
                self.pm.check_pending()
                return
            except pluggy.PluginValidationError as exc:
                name = self.pm.get_name(exc.plugin) or "?"
                dist = self.info.get(name, PluginInfo(name, "unknown", "")).distribution
                self.problem(f"plugin '{name}' from {dist}: {exc}{self._hook_hint(exc.plugin)}")
                self.pm.unregister(exc.plugin)
                self.info.pop(name, None)

    def _hook_hint(self, plugin: Any) -> str:
        """` (did you mean 'register_encoders'?)` for a hook whose name is close to a spec's."""
        import difflib

        specs = [n for n, f in vars(hookspecs).items() if hasattr(f, f"{hookspecs.PROJECT}_spec")]
        marker = f"{hookspecs.PROJECT}_impl"
        for name in dir(plugin):
            if name not in specs and hasattr(getattr(plugin, name, None), marker):
                close = difflib.get_close_matches(name, specs, n=1)
                if close:
                    return f" (did you mean '{close[0]}'?)"
        return ""

    def _register_callback(self, plugin: PluginInfo) -> Callable[[type], None]:
        def register(cls: type) -> None:
            try:
                self.registry.add(cls, plugin.distribution, plugin.version, plugin.name)
            except PluginError as exc:
                self.problem(f"plugin '{plugin.name}' from {plugin.distribution}: {exc}", skipped=False)

        return register

    def call_register_hooks(self, hooks: tuple[str, ...] = REGISTER_HOOKS) -> None:
        for hook_name in hooks:
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():  # registration order
                name = self.pm.get_name(impl.plugin) or "?"
                plugin = self.info.get(name, PluginInfo(name, "unknown", ""))
                kwargs = {arg: self._register_callback(plugin) for arg in impl.argnames}
                try:
                    impl.function(**kwargs)
                except PluginError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a plugin's own bug is reported, not fatal
                    self.problem(
                        f"plugin '{name}' from {plugin.distribution}: {hook_name} failed: {type(exc).__name__}: {exc}",
                        skipped=False,
                    )

    def load(self) -> Registry:
        self.load_entry_points()
        self.check_hooks()
        self.call_register_hooks()
        return self.registry


def load_registry(
    strict: bool | None = None, autoload: bool | None = None, extra: list[Any] | None = None
) -> tuple[Registry, PluginLoader]:
    """A fresh registry from the installed plugins (and `extra` plugin objects, for tests)."""
    loader = PluginLoader(strict=strict, autoload=autoload)
    loader.load_entry_points()
    for i, plugin in enumerate(extra or []):
        loader.add_plugin(plugin, getattr(plugin, "__name__", f"extra-{i}"), "local", "")
    loader.check_hooks()
    loader.call_register_hooks()
    return loader.registry, loader


@functools.cache
def _default() -> tuple[Registry, PluginLoader]:
    """The process-wide plugins: entry points loaded and hooks checked now (cheap: a plugin
    imports its classes inside its hooks), each kind's `register_*` hooks called when that kind
    is first asked for (encoders import torch)."""
    loader = PluginLoader()
    loader.load_entry_points()
    loader.check_hooks()
    for kind, hook in HOOK_OF_KIND.items():
        loader.registry.defer(kind, functools.partial(loader.call_register_hooks, (hook,)))
    return loader.registry, loader


def get_registry() -> Registry:
    """The process-wide registry, loaded once from the installed plugins."""
    return _default()[0]


def get_plugin_manager() -> pluggy.PluginManager:
    """The pluggy manager behind `get_registry()` (for hooks such as `register_commands`)."""
    return _default()[1].pm
