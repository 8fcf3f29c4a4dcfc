"""SynthpipeTrainOperator: train a generator from a pipeline file (or reuse a recent one)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from synthpipe.airflow.operators.base import SynthpipeOperator, load

if TYPE_CHECKING:
    from airflow.sdk import Context

    from synthpipe.store import GeneratorRecord, Store


class SynthpipeTrainOperator(SynthpipeOperator):
    """Train a generator on the real tables a pipeline file names.

    :param pipeline: path of the pipeline file (templated).
    :param name: generator name (templated); default the pipeline's.
    :param generator: generator kind overriding the file's (e.g. ``independent``).
    :param reuse: return the newest trained generator of that name instead of training, when
        one exists (and is younger than ``max_age`` when set).
    :param max_age: how old a reused generator may be.

    Returns ``{"generator": id, "name", "kind", "reused", "training_rows", "seconds"}``.
    """

    template_fields = ("pipeline", "name", "home")

    def __init__(
        self,
        *,
        pipeline: str,
        name: str | None = None,
        generator: str | None = None,
        reuse: bool = False,
        max_age: timedelta | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.name = name
        self.generator = generator
        self.reuse = reuse
        self.max_age = max_age

    def execute(self, context: Context) -> dict[str, Any]:
        from synthpipe import api
        from synthpipe.airflow.hook import resolve

        pipeline = load(self.pipeline)
        name = self.name or pipeline.generator.name or pipeline.name
        store = self.store()
        if self.reuse and (found := self._reusable(store, name)) is not None:
            self.log.info("reusing generator %s (%s)", found.name, found.id)
            return result(found, reused=True)
        pipeline = pipeline.model_copy(update={"source": resolve(pipeline.source)})
        record = api.train(
            pipeline,
            generator=self.generator,
            name=name,
            home=store.root,
            progress=self.progress(),
        )
        self.log.info("trained generator %s (%s): %s", record.name, record.id, record.training_rows)
        return result(record, reused=False)

    def _reusable(self, store: Store, name: str) -> GeneratorRecord | None:
        from synthpipe.store import Status

        oldest = time.time() - self.max_age.total_seconds() if self.max_age else 0
        done = [
            g
            for g in store.generators()
            if g.name == name and g.status is Status.DONE and (g.finished_at or 0) >= oldest
        ]
        return done[-1] if done else None


def result(record: GeneratorRecord, *, reused: bool) -> dict[str, Any]:
    """The small JSON XCom of a training task."""
    return {
        "generator": record.id,
        "name": record.name,
        "kind": record.generator,
        "reused": reused,
        "training_rows": record.training_rows,
        "seconds": round(sum(record.timings.values()), 3),
    }
