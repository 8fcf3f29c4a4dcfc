"""The dbt-duckdb plugin: synthetic sources in, external models out through synthpipe connectors.

Profile::

    plugins:
      - module: synthpipe.dbt.duckdb
        alias: synthpipe
        config:
          home: .synthpipe                       # the artifact store (default $SYNTHPIPE_HOME)
          destinations:                          # where external models may be delivered
            exports: {connector: duckdb, options: {path: exports.duckdb}}

A source with ``meta: {plugin: synthpipe, synthpipe: {generator: NAME_OR_PATH, size: N,
seed: S}}`` is materialised from a synthetic dataset when dbt first resolves it; an external
model with ``plugin: synthpipe`` and ``meta: {synthpipe: {destination: exports}}`` is written
to that destination with overwrite semantics after dbt has written its file. With
``read_from: {connector, options, location}`` in the config, sources are read from where a
synthpipe delivery put them instead of being generated: the same dbt project then checks the
delivered tables.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbt.adapters.duckdb.plugins import BasePlugin
from pydantic import Field, ValidationError

from synthpipe.dbt.meta import ModelMeta, SourceMeta, parse_meta
from synthpipe.errors import ConfigError
from synthpipe.pipeline import Connection
from synthpipe.schema import Model

if TYPE_CHECKING:
    import pyarrow as pa
    from dbt.adapters.duckdb.utils import SourceConfig, TargetConfig


class Location(Connection):
    """A connector, its settings and a location (schema, folder or prefix) in it."""

    location: str | None = None


class PluginSettings(Model):
    """The plugin's ``config`` block in the dbt profile."""

    # Artifact store root; None uses $SYNTHPIPE_HOME or ./.synthpipe.
    home: str | None = None
    # Read sources from a delivery's destination instead of generating them.
    read_from: Location | None = None
    # Named destinations external models can be delivered to (secrets stay in the profile).
    destinations: dict[str, Location] = Field(default_factory=dict)


class Plugin(BasePlugin):
    """Materialises synthpipe sources and delivers external models; see the module docstring."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        # dbt-duckdb merges the profile's DuckDB `settings` into every plugin's config.
        settings = (self.creds.settings or {}) if self.creds is not None else {}
        own = {k: v for k, v in plugin_config.items() if k not in settings or settings[k] != v}
        try:
            self.settings = PluginSettings.model_validate(own)
        except ValidationError as exc:
            problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            raise ConfigError(
                problems, source=f"config of dbt-duckdb plugin '{self.name}'"
            ) from None
        self._lock = threading.Lock()
        self._tables: dict[tuple[str, str], pa.Table] = {}

    def configure_connection(self, conn) -> None:
        """Create a local ``external_root``: DuckDB writes external models' files into it."""
        root = getattr(self.creds, "external_root", None)
        if root and "://" not in root:
            Path(root).mkdir(parents=True, exist_ok=True)

    def _store(self):
        from synthpipe.store import Store

        return Store(self.settings.home)

    def load(self, source_config: SourceConfig) -> pa.Table:
        """The source table's synthetic rows (generated, reused, or read from a delivery)."""
        where = f"source '{source_config.schema}.{source_config.name}'"
        meta = parse_meta(source_config.meta, SourceMeta, where)
        table = meta.table or source_config.identifier
        if self.settings.read_from is not None:
            return self._read_delivered(table, where)
        if not meta.generator:
            raise ConfigError(
                "meta.synthpipe.generator is missing; name the generator (or an exported "
                "generator or pipeline file) that produces this source",
                source=where,
            )
        with self._lock:  # dbt threads resolve sources concurrently; generate each dataset once
            return self._synthetic(meta, table, where)

    def _synthetic(self, meta: SourceMeta, table: str, where: str) -> pa.Table:
        from synthpipe.dbt import materialize

        store = self._store()
        generator = materialize.resolve_generator(store, meta.generator, where, _base_dirs())
        sizes = materialize.resolve_sizes(generator, meta, where)
        dataset = materialize.find_or_generate(store, generator, sizes, meta.seed)
        key = (dataset.id, table)
        if key not in self._tables:
            self._tables[key] = materialize.read_table(store, dataset, table, where)
        return self._tables[key]

    def _read_delivered(self, table: str, where: str) -> pa.Table:
        import pyarrow as pa

        from synthpipe import engine
        from synthpipe.errors import SynthpipeError

        source = self.settings.read_from
        try:
            with engine.connect(source) as connector:
                batches = list(connector.read(table, source.location))
                if not batches:  # an empty table still needs its columns
                    return _empty(connector.schema(source.location, [table])[0])
        except SynthpipeError as exc:
            raise ConfigError(
                f"cannot read delivered table '{table}' from {source.connector} "
                f"(read_from in the profile): {exc}; deliver the dataset first or fix read_from",
                source=where,
            ) from exc
        return pa.Table.from_batches(batches)

    def store(self, target_config: TargetConfig) -> None:
        """Deliver an external model's file to its destination, replacing the target table."""
        from synthpipe import engine
        from synthpipe.connectors.base import WriteMode
        from synthpipe.schema import Table
        from synthpipe.types import columns_from_arrow

        relation = target_config.relation
        where = f"model '{relation.identifier}'"
        meta = parse_meta(_model_meta(target_config.config), ModelMeta, where)
        destination = self._destination(meta.destination, where)
        data = _read_external(target_config.location.path, target_config.location.format)
        table = Table(
            name=meta.table or relation.identifier, columns=columns_from_arrow(data.schema)
        )
        location = meta.location or destination.location
        with engine.connect(destination) as connector:
            connector.write(table, data.to_batches(), location, WriteMode.OVERWRITE)

    def _destination(self, name: str | None, where: str) -> Location:
        known = ", ".join(self.settings.destinations) or "none configured"
        if name is None or name not in self.settings.destinations:
            what = "is missing" if name is None else f"'{name}' is not configured"
            raise ConfigError(
                f"meta.synthpipe.destination {what}; name one of the plugin's destinations "
                f"({known}) or add it under `destinations` in the plugin config of the profile",
                source=where,
            )
        return self.settings.destinations[name]


def _empty(table) -> pa.Table:
    import pyarrow as pa

    from synthpipe.types import arrow_type

    return pa.schema([(c.name, arrow_type(c)) for c in table.columns or []]).empty_table()


def _model_meta(config: Any) -> dict:
    """A model's meta from dbt's runtime config object (or a plain dict in tests)."""
    meta = config.get("meta") if config is not None else None
    return meta or {}


def _read_external(path: str, fmt: str) -> pa.Table:
    """The file (or folder of files) dbt wrote for an external model, as Arrow."""
    if fmt == "json":
        import pyarrow.json as pj

        return pj.read_json(path)
    import pyarrow.dataset as ds

    return ds.dataset(path, format=fmt).to_table()


def _base_dirs() -> list[Path]:
    """Where relative generator paths are looked up: the dbt project directory, then the cwd."""
    dirs = []
    try:
        from dbt.flags import get_flags

        project_dir = getattr(get_flags(), "PROJECT_DIR", None)
        if project_dir:
            dirs.append(Path(project_dir))
    except Exception:  # outside a dbt invocation the flags are not set
        pass
    return [*dirs, Path.cwd()]
