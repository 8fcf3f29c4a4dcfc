"""The Airflow provider: a hook, one operator per verb, and DAGs built from pipeline files.

Nothing here imports Airflow or synthpipe's heavy parts at module level, so DAG files that
use it parse fast; ``pipeline_dag`` is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synthpipe.airflow.dag import pipeline_dag, pipeline_dags

__all__ = ["pipeline_dag", "pipeline_dags"]


def __getattr__(name: str):
    if name in __all__:
        from synthpipe.airflow import dag

        return getattr(dag, name)
    raise AttributeError(f"module 'synthpipe.airflow' has no attribute {name!r}")
