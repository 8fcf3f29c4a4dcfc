"""One learned table: its column codecs and the chain that generates their variables.

Columns here are the table's value columns plus derived ones (children counts of a parent,
start and step of a sequence's order column); keys are handled by ``relational``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from synthpipe.generators.fidelity.analysis import CODECS
from synthpipe.generators.fidelity.chain import Chain
from synthpipe.generators.fidelity.columns import ColumnCodec
from synthpipe.generators.fidelity.order import Variable


@dataclass
class TableModel:
    """Codecs of the modelled columns (in order) and the chain over their variables."""

    codecs: list[ColumnCodec]
    chain: Chain

    @staticmethod
    def variables(
        codecs: list[ColumnCodec], columns: dict[str, pa.Array], rng: np.random.Generator
    ) -> list[Variable]:
        """Training variables of the codecs' columns (one or more per column)."""
        out = []
        for codec in codecs:
            codes = codec.encode(columns[codec.name], rng)
            for spec, code in zip(codec.variables(), codes, strict=True):
                name = f"{codec.name}.{spec.suffix}" if spec.suffix else codec.name
                out.append(Variable(name, code.astype(np.int32), spec.states, spec.coarse))
        return out

    def decode(
        self, targets: list[np.ndarray], rng: np.random.Generator, types: dict[str, pa.DataType]
    ) -> dict[str, pa.Array]:
        """Arrow arrays of the modelled columns from the targets' sampled states."""
        out, i = {}, 0
        for codec in self.codecs:
            k = len(codec.variables())
            out[codec.name] = codec.decode(targets[i : i + k], rng, types[codec.name])
            i += k
        return out

    def to_state(self, prefix: str) -> tuple[dict, dict[str, np.ndarray], dict[str, pa.Table]]:
        meta: dict = {"codecs": []}
        arrays: dict[str, np.ndarray] = {}
        tables: dict[str, pa.Table] = {}
        for i, codec in enumerate(self.codecs):
            codec_meta, more_arrays, more_tables = codec.to_state(f"{prefix}.c{i}")
            meta["codecs"].append({"name": codec.name, "kind": codec.kind, "meta": codec_meta})
            arrays.update(more_arrays)
            tables.update(more_tables)
        meta["chain"], more = self.chain.to_state(f"{prefix}.chain")
        arrays.update(more)
        return meta, arrays, tables

    @classmethod
    def from_state(
        cls, meta: dict, arrays: dict[str, np.ndarray], tables: dict[str, pa.Table], prefix: str
    ) -> TableModel:
        codecs = [
            CODECS[c["kind"]].from_state(c["name"], c["meta"], arrays, tables, f"{prefix}.c{i}")
            for i, c in enumerate(meta["codecs"])
        ]
        return cls(codecs, Chain.from_state(meta["chain"], arrays, f"{prefix}.chain"))
