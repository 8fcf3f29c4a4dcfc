"""What the synthpipe operators share: the store, a cancel switch for ``on_kill``, references.

Operators import only Airflow's SDK at module level; synthpipe's engine, pyarrow and the
connectors are imported inside ``execute``, so DAG files parse fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from synthpipe.airflow.config import synthpipe_home

if TYPE_CHECKING:
    from synthpipe.pipeline import Pipeline
    from synthpipe.progress import Progress, Step
    from synthpipe.store import Store


class SynthpipeOperator(BaseOperator):
    """Base of the synthpipe operators.

    :param home: the artifact store root; default ``SYNTHPIPE_HOME`` or ``[synthpipe] home``.
    """

    ui_color = "#e8f4ea"

    def __init__(self, *, home: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.home = home
        self._progress: Progress | None = None

    def store(self) -> Store:
        """The artifact store this task reads and writes."""
        from synthpipe.store import Store

        return Store(synthpipe_home(self.home))

    def progress(self) -> Progress:
        """A fresh Progress for this attempt, logging each finished step; on_kill cancels it."""
        from synthpipe.progress import Progress

        self._progress = Progress([self._log_step])
        return self._progress

    def _log_step(self, _progress: Progress, step: Step) -> None:
        if step.finished_at is not None:
            seconds = step.finished_at - step.started_at
            self.log.info(
                "%s: %s (%d done, %.1f s)", step.name, step.status, step.completed, seconds
            )

    def on_kill(self) -> None:
        """Cancel running training or generation; the engine stops at its next check and
        keeps nothing half-written (the record says CANCELED)."""
        if self._progress is not None:
            self.log.info("cancelling synthpipe work on request")
            self._progress.cancel()


def ref(value: Any, key: str) -> str:
    """An id from a plain string or from an upstream task's XCom result (a dict with ``key``)."""
    if isinstance(value, dict):
        if key not in value:
            from synthpipe.errors import ConfigError

            raise ConfigError(f"upstream result has no '{key}' (keys: {', '.join(value)})")
        return str(value[key])
    return str(value)


def load(pipeline: str | None) -> Pipeline | None:
    """The pipeline file at ``pipeline``, or None when no file is given."""
    if not pipeline:
        return None
    from synthpipe.pipeline import load_pipeline

    return load_pipeline(pipeline)
