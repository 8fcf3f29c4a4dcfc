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
        """A fresh Progress for this attempt, logging plain lines to the task log (a step's
        start, every 10% of it, a heartbeat every 30 s, its end); on_kill cancels it."""
        from synthpipe.progress import LogLines, Progress

        self._lines = LogLines(self.log.info)
        self._progress = Progress([self._log_step])
        return self._progress

    def _log_step(self, progress: Progress, step: Step) -> None:
        self._lines(progress, step)

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
