"""dbt integration: synthetic sources and external models in dbt-duckdb, dbt runs from Python
and Airflow, and dbt's own schema (sources, models, tests) as synthpipe configuration.

- ``synthpipe.dbt.duckdb.Plugin``: the dbt-duckdb plugin (profile ``plugins:`` entry).
- ``run_dbt(args, project_dir, profiles_dir)``: dbt in-process, a JSON-safe summary back.
- ``import_manifest(path)``: generator tables and validation expectations from a manifest.
- ``sources_yml(dataset)``: a ``sources.yml`` for a synthetic dataset.
- ``synthpipe.dbt.airflow.DbtBuildOperator``: ``dbt build`` as an Airflow task.

Nothing here imports dbt until a function that needs it is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthpipe.dbt.manifest import DbtImport, import_manifest  # noqa: F401
    from synthpipe.dbt.runner import DbtRunError, dbt_build, run_dbt  # noqa: F401
    from synthpipe.dbt.sources import sources_yml, write_sources_yml  # noqa: F401

_EXPORTS = {
    "DbtImport": "manifest",
    "import_manifest": "manifest",
    "DbtRunError": "runner",
    "dbt_build": "runner",
    "run_dbt": "runner",
    "sources_yml": "sources",
    "write_sources_yml": "sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f"synthpipe.dbt.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'synthpipe.dbt' has no attribute {name!r}")
