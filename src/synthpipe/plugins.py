"""The plugin manager: built-ins from a default list, third parties from entry points.

Built-in plugins are registered exactly like third-party ones, through the same hooks. A plugin
that fails to import is recorded as broken (with the error and the command that would fix it)
and skipped, so one bad distribution never breaks the CLI.
"""

from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata

import pluggy

from synthpipe import hookspecs
from synthpipe.errors import OPTIONAL_MODULES, PluginError

ENTRY_POINT_GROUP = "synthpipe"

# The connector distributions shipped under plugins/ in synthpipe's source tree, by the kinds
# they register. Only these and what is installed are ever suggested: never a package name
# guessed from what the user typed (anyone could publish one under that name).
SHIPPED_CONNECTORS = {
    "postgres": "synthpipe-postgres",
    "mysql": "synthpipe-mysql",
    "mariadb": "synthpipe-mysql",
    "oracle": "synthpipe-oracle",
    "s3": "synthpipe-s3",
    "gcs": "synthpipe-gcs",
}

# Embedded plugins, loaded through the same hooks as third-party ones.
DEFAULT_PLUGINS = (
    "synthpipe.connectors.files",
    "synthpipe.connectors.duckdb",
    "synthpipe.generators.independent",
    "synthpipe.generators.fidelity",
)


@dataclass
class PluginInfo:
    """One loaded or broken plugin, as `synthpipe plugins` shows it."""

    name: str
    origin: str  # "builtin" or the distribution name and version
    connectors: list[str] = field(default_factory=list)
    generators: list[str] = field(default_factory=list)
    error: str | None = None
    fix: str | None = None

    @property
    def broken(self) -> bool:
        return self.error is not None


@dataclass
class Registry:
    """What the loaded plugins provide, keyed by ``kind``."""

    connectors: dict[str, type] = field(default_factory=dict)
    generators: dict[str, type] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)


def _allowed() -> set[str] | None:
    raw = os.environ.get("SYNTHPIPE_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def shipped_install(dist: str) -> str:
    """The command that installs a distribution shipped under plugins/ (in a source checkout)."""
    return f"pip install ./plugins/{dist}"


def _fix_for(dist_name: str | None, exc: Exception) -> str:
    """The command that repairs a plugin that failed to load with ``exc``."""
    missing = exc.name if isinstance(exc, ModuleNotFoundError) else None
    if missing and missing.split(".")[0] in OPTIONAL_MODULES:
        return OPTIONAL_MODULES[missing.split(".")[0]][1]
    # The distribution is installed (its entry point was found), so its name is real.
    return f"pip install --force-reinstall {dist_name or 'synthpipe'}"


def _collect(
    pm: pluggy.PluginManager, plugin: object, info: PluginInfo, registry: Registry
) -> None:
    """Run one plugin's hooks, filing what it registers under its name."""
    hook_caller = pm.subset_hook_caller
    others = [p for p in pm.get_plugins() if p is not plugin]

    def register_connector(cls: type) -> None:
        registry.connectors[cls.kind] = cls
        info.connectors.append(cls.kind)

    def register_generator(cls: type) -> None:
        registry.generators[cls.kind] = cls
        info.generators.append(cls.kind)

    hook_caller("register_connectors", others)(register=register_connector)
    hook_caller("register_generators", others)(register=register_generator)


def _load(
    pm: pluggy.PluginManager, registry: Registry, name: str, origin: str, loader, dist: str | None
) -> None:
    info = PluginInfo(name=name, origin=origin)
    registry.plugins.append(info)
    try:
        plugin = loader()
        pm.register(plugin, name=name)
        pm.check_pending()
        _collect(pm, plugin, info, registry)
    except Exception as exc:  # a broken plugin is reported, never fatal
        if pm.has_plugin(name):
            pm.unregister(name=name)
        info.error = f"{type(exc).__name__}: {exc}"
        info.fix = _fix_for(dist, exc)


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


@cache
def get_registry() -> Registry:
    """Load every allowed plugin once per process and return what they registered."""
    pm = pluggy.PluginManager("synthpipe")
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    allowed = _allowed()
    for module in DEFAULT_PLUGINS:
        _load(pm, registry, module, "builtin", lambda m=module: importlib.import_module(m), None)
    for ep in _entry_points():
        if allowed is not None and ep.name not in allowed:
            continue
        dist = ep.dist.name if ep.dist else None
        origin = f"{dist} {ep.dist.version}" if ep.dist else "entry point"
        _load(pm, registry, ep.name, origin, ep.load, dist)
    return registry


def reload() -> Registry:
    """Forget loaded plugins and load them again (after installing one, or in tests)."""
    get_registry.cache_clear()
    return get_registry()


def connector_class(kind: str) -> type:
    """The connector class registered under ``kind``, or a PluginError naming the fix."""
    return _lookup(get_registry().connectors, kind, "connector")


def generator_class(kind: str) -> type:
    """The generator class registered under ``kind``, or a PluginError naming the fix."""
    return _lookup(get_registry().generators, kind, "generator")


def _lookup(table: dict[str, type], kind: str, what: str) -> type:
    if kind in table:
        return table[kind]
    for info in get_registry().plugins:
        if info.broken and kind in info.name:
            raise PluginError(
                f"{what} '{kind}' comes from plugin '{info.name}', which failed to load "
                f"({info.error}); fix it with `{info.fix}`"
            )
    shipped = SHIPPED_CONNECTORS if what == "connector" else {}
    if kind in shipped and _installed(shipped[kind]) and _allowed() is not None:
        raise PluginError(
            f"{what} '{kind}' comes with {shipped[kind]}, which is installed but not loaded: "
            f"SYNTHPIPE_LOAD_PLUGINS={os.environ.get('SYNTHPIPE_LOAD_PLUGINS')} leaves out its "
            "entry point; add it there or unset the variable"
        )
    if kind in shipped:
        raise PluginError(
            f"{what} '{kind}' comes with the {shipped[kind]} distribution, which is not "
            f"installed: install it with `{shipped_install(shipped[kind])}` in a synthpipe "
            "source checkout (`make install` installs every shipped plugin), then check "
            "`synthpipe plugins`"
        )
    raise PluginError(_unknown(table, kind, what, shipped))


def _installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


def _unknown(table: dict[str, type], kind: str, what: str, shipped: dict[str, str]) -> str:
    """Why ``kind`` is unknown, with close matches among installed and shipped kinds only."""
    candidates = sorted(set(table) | set(shipped))
    close = difflib.get_close_matches(kind.lower(), candidates, n=3, cutoff=0.6)
    text = f"unknown {what} '{kind}'"
    if close:
        named = [
            f"'{c}'" if c in table else f"'{c}' (from {shipped[c]}, not installed)" for c in close
        ]
        text += f"; did you mean {' or '.join(named)}?"
    else:
        text += "."
    text += f" Installed {what}s: {', '.join(sorted(table)) or 'none'}"
    absent = sorted(k for k in shipped if k not in table)
    if absent:
        text += f"; shipped under plugins/ but not installed: {', '.join(absent)}"
    return (
        text + ". `synthpipe plugins` lists what is loaded; docs/plugins.md shows how to write "
        f"a plugin that provides a new {what}"
    )
