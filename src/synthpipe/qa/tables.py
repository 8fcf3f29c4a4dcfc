"""The tables to evaluate: the user's data frames matched with their keys from the config.

``evaluate`` accepts one data frame per role (a single table) or a dict of data frames per role
(a relational dataset). Here both shapes become a list of ``TableData``: each table's training,
holdout and synthetic frames together with its primary key, foreign keys, context key and
sequence order, so that every metric sees the same structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from synthpipe.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from synthpipe.schema import ForeignKey, GeneratorConfig, Table

# Name of a single table given as a bare data frame without a config naming it.
DEFAULT_TABLE = "table"


@dataclass
class TableData:
    """One table's frames and structure."""

    name: str
    train: pd.DataFrame
    synthetic: pd.DataFrame | None
    holdout: pd.DataFrame | None = None
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)
    original_data: bool = False

    @property
    def context_key(self) -> ForeignKey | None:
        return next((fk for fk in self.foreign_keys if fk.is_context), None)

    @property
    def key_columns(self) -> list[str]:
        keys = list(self.primary_key)
        for fk in self.foreign_keys:
            keys += [c for c in fk.columns if c not in keys]
        return keys

    @property
    def value_columns(self) -> list[str]:
        """Columns whose values are compared: training columns, not keys, in every frame."""
        keys, missing = set(self.key_columns), set(self.missing_columns)
        return [c for c in self.train.columns if c not in keys and str(c) not in missing]

    @property
    def missing_columns(self) -> list[str]:
        """Training columns that the synthetic or holdout frame lacks (not compared)."""
        frames = [f for f in (self.synthetic, self.holdout) if f is not None]
        return [str(c) for c in self.train.columns if any(c not in f.columns for f in frames)]


def resolve_tables(train, synthetic, holdout, config: GeneratorConfig | None) -> list[TableData]:
    """Match the frames of each role with the config's tables, in generation order."""
    train_d, synthetic_d, holdout_d = (_as_dict(x, config) for x in (train, synthetic, holdout))
    if not train_d:
        raise ConfigError("evaluate() got no training data; pass a DataFrame or a dict of them")
    specs = {t.name: t for t in config.tables} if config else {}
    order = [t.name for t in config.generation_order()] if config else []
    names = [n for n in order if n in train_d] + [n for n in train_d if n not in order]
    return [_table(n, train_d, synthetic_d, holdout_d, specs.get(n)) for n in names]


def _as_dict(frames, config: GeneratorConfig | None) -> dict[str, pd.DataFrame]:
    if frames is None:
        return {}
    if isinstance(frames, dict):
        return {str(k): v for k, v in frames.items()}
    learned = config.learned_tables() if config else []
    name = learned[0].name if len(learned) == 1 else DEFAULT_TABLE
    return {name: frames}


def _table(name, train_d, synthetic_d, holdout_d, spec: Table | None) -> TableData:
    table = TableData(name, train_d[name], synthetic_d.get(name), holdout_d.get(name))
    if spec is not None:
        table.primary_key = list(spec.primary_key or [])
        table.foreign_keys = list(spec.foreign_keys)
        table.order_by = list(spec.order_by or [])
        table.original_data = spec.original_data
    _check_columns(table)
    return table


def _check_columns(table: TableData) -> None:
    """Refuse a config naming key columns the training data lacks."""
    missing = [c for c in table.key_columns + table.order_by if c not in table.train.columns]
    if missing:
        raise ConfigError(
            f"table '{table.name}' names key or order_by column(s) "
            f"{', '.join(map(str, missing))} that its training data lacks; "
            "fix the config or pass the full table"
        )


def align_key_types(left: pd.DataFrame, right: pd.DataFrame):
    """The two key frames (same column names) with comparable types, column by column.

    Keys read from different sources may differ in type: numbers are compared as floats (a
    nullable integer key reads as float), anything else as text.
    """
    from pandas.api.types import is_numeric_dtype

    for col in left.columns:
        if left[col].dtype == right[col].dtype:
            continue
        numeric = is_numeric_dtype(left[col]) and is_numeric_dtype(right[col])
        kind = "float64" if numeric else "string"
        left = left.assign(**{col: left[col].astype(kind)})
        right = right.assign(**{col: right[col].astype(kind)})
    return left, right
