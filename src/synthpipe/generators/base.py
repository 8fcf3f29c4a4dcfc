"""The generator interface: learn from training tables, sample synthetic ones.

A generator never talks to a connector: the engine hands it the training data as Arrow tables
and stores what ``fit`` returns. Fitted state is a ``FittedState``: JSON-safe metadata, numpy
arrays (saved with ``allow_pickle=False``) and Arrow tables (saved as parquet), so a stored
model can never execute code when loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from synthpipe.progress import Progress
    from synthpipe.schema import GeneratorConfig, SampleSpec


@dataclass
class TrainingData:
    """The tables to learn from, keyed by table name, with their resolved config."""

    config: GeneratorConfig
    tables: dict[str, pa.Table]
    # The tables before the holdout split, when there was one: a reference to a held-out row
    # is then no dangling reference (the real data has no orphan there).
    whole: dict[str, pa.Table] | None = None


@dataclass
class FittedState:
    """A generator's learned state in a form that is safe to store and load.

    ``meta`` must be JSON-serialisable; ``arrays`` hold numeric or fixed-width unicode numpy
    arrays (no object dtype); ``tables`` hold Arrow tables (e.g. original-data lookups).
    """

    meta: dict = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, pa.Table] = field(default_factory=dict)


class Generator:
    """Base class of generator plugins; subclasses set ``kind`` and ``version``.

    ``fit`` and ``sample`` are the public pair; subclasses implement ``_fit`` and ``_sample``.
    """

    kind: ClassVar[str] = ""
    # Version of the fitted-state format; a stored state of another version is refused.
    version: ClassVar[int] = 1
    description: ClassVar[str] = ""

    def fit(self, data: TrainingData, progress: Progress) -> FittedState:
        """Learn from ``data``; reports steps on ``progress`` and stops when it is canceled."""
        state = self._fit(data, progress)
        state.meta.setdefault("generator", self.kind)
        state.meta.setdefault("version", self.version)
        # The resolved config travels with the state, so sampling needs nothing else.
        state.meta.setdefault("config", data.config.model_dump(mode="json", by_alias=True))
        return state

    def sample(
        self, state: FittedState, spec: SampleSpec, progress: Progress
    ) -> Iterator[tuple[str, pa.RecordBatch]]:
        """Yield ``(table name, batch)`` pairs; parents' batches come before their children's.

        The rows depend only on the state, ``spec.seed`` and the partition, never on timing.
        """
        return self._sample(state, spec, progress)

    def _fit(self, data: TrainingData, progress: Progress) -> FittedState:
        raise NotImplementedError(f"generator '{self.kind}' does not implement _fit")

    def _sample(
        self, state: FittedState, spec: SampleSpec, progress: Progress
    ) -> Iterator[tuple[str, pa.RecordBatch]]:
        raise NotImplementedError(f"generator '{self.kind}' does not implement _sample")
