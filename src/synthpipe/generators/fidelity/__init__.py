"""The `fidelity` generator: synthpipe's default engine, faithful and private, on CPU.

Each table is learned as a chain of decision trees: every column (numbers binned, dates split
into week, weekday and time of day, categories with rare ones protected, strings and text by
small Markov models) is generated from the columns before it, child tables as sequences
conditioned on their parent row and previous row. See docs/fidelity.md for the model, its
privacy protections and its figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from synthpipe.generators.base import FittedState, Generator, TrainingData
from synthpipe.hookspecs import hookimpl

if TYPE_CHECKING:
    import pyarrow as pa

    from synthpipe.progress import Progress
    from synthpipe.schema import SampleSpec


class FidelityGenerator(Generator):
    """Sequential tree synthesis of tables, sequences and their relations."""

    kind = "fidelity"
    version = 1
    description = "default: tree-based sequential synthesis of tables and sequences (CPU)"

    def _fit(self, data: TrainingData, progress: Progress) -> FittedState:
        from synthpipe.generators.fidelity.fitting import fit_dataset

        return fit_dataset(data, progress)

    def _sample(
        self, state: FittedState, spec: SampleSpec, progress: Progress
    ) -> Iterator[tuple[str, pa.RecordBatch]]:
        from synthpipe.generators.fidelity.sampling import PartitionSampler

        return PartitionSampler(state, spec, progress).run()


@hookimpl
def register_generators(register):
    register(FidelityGenerator)
