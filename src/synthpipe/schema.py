"""The relational domain model: tables, columns, keys, and how a generator should learn them.

Names follow what users know from synthetic-data products: a ``GeneratorConfig`` holds tables
with primary keys, foreign keys (one of them may be the *context* key that makes a table a child
whose rows are generated per parent), included columns with an encoding type, and "original
data" lookup tables that are copied verbatim. ``validate_config`` checks every rule a user can
break before any data is read and reports all problems together.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

# A table needs at least this many rows to be learned from (original-data tables excepted):
# below it every value is a rare value and value protection would leave nothing to learn.
MIN_TRAINING_ROWS = 10
# The most rows generation.sizes may ask of one table: a typo like 1e12 is refused before any
# work, not found out after hours of generation.
MAX_ROWS_PER_TABLE = 1_000_000_000


class Model(BaseModel):
    """Base of every user-facing model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class LogicalType(StrEnum):
    """What a column holds, independent of the storage type of any one backend."""

    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"
    STRING = "string"
    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"
    LAT_LONG = "lat_long"


class EncodingType(StrEnum):
    """How a generator should model a column (the ModelEncodingType vocabulary)."""

    AUTO = "AUTO"
    TABULAR_CATEGORICAL = "TABULAR_CATEGORICAL"
    TABULAR_NUMERIC_AUTO = "TABULAR_NUMERIC_AUTO"
    TABULAR_NUMERIC_DISCRETE = "TABULAR_NUMERIC_DISCRETE"
    TABULAR_NUMERIC_BINNED = "TABULAR_NUMERIC_BINNED"
    TABULAR_NUMERIC_DIGIT = "TABULAR_NUMERIC_DIGIT"
    TABULAR_CHARACTER = "TABULAR_CHARACTER"
    TABULAR_DATETIME = "TABULAR_DATETIME"
    TABULAR_DATETIME_RELATIVE = "TABULAR_DATETIME_RELATIVE"
    TABULAR_LAT_LONG = "TABULAR_LAT_LONG"
    LANGUAGE_TEXT = "LANGUAGE_TEXT"


class RareCategoryReplacement(StrEnum):
    """What value protection puts in place of a rare category."""

    CONSTANT = "CONSTANT"  # the token _RARE_
    SAMPLE = "SAMPLE"  # a sample of the frequent categories


RARE_TOKEN = "_RARE_"


def _as_list(value):
    return [value] if isinstance(value, str) else value


Names = Annotated[list[str], BeforeValidator(_as_list)]


class Column(Model):
    """One column of a table."""

    name: str
    # Logical type; discovered from the source when the column comes from a catalog.
    type: LogicalType = LogicalType.STRING
    # Whether nulls occur (or may occur); derived columns keep the source's nullability.
    nullable: bool = True
    # How the generator models it; AUTO lets the generator decide from the type and values.
    encoding: EncodingType = EncodingType.AUTO
    # Decimal precision and scale, or float digits to keep, where the source defines them.
    precision: int | None = None
    scale: int | None = None
    # Sensitive columns are never learned: "fake" fills realistic fake values, "drop" omits it.
    sensitive: Literal["fake", "drop"] | None = None
    # Faker provider for sensitive "fake" columns (e.g. "email", "name"); guessed when unset.
    faker: str | None = None
    description: str | None = None


class ColumnOverride(Model):
    """What a user may change about a discovered column."""

    type: LogicalType | None = None
    encoding: EncodingType | None = None
    sensitive: Literal["fake", "drop"] | None = None
    faker: str | None = None
    description: str | None = None


class ForeignKey(Model):
    """A reference from this table's column(s) to another table's primary key."""

    columns: Names = Field(alias="column")
    referenced_table: str
    # Columns of the referenced table; defaults to its primary key.
    referenced_columns: Names | None = Field(default=None, alias="referenced_column")
    # The context key: rows of this table are generated per row of the referenced table.
    is_context: bool = False


class ModelConfiguration(Model):
    """Training settings for one table (or the default for all of them)."""

    # Train on at most this many rows (a uniform sample); None uses all.
    max_sample_size: int | None = Field(default=None, gt=0)
    # Stop training after this many minutes, keeping the best model so far.
    max_training_time: float | None = Field(default=None, gt=0)
    # Upper bound on passes over the data for iterative models.
    max_epochs: int | None = Field(default=None, gt=0)
    # Protect individuals: replace rare categories and clip extreme values.
    value_protection: bool = True
    rare_category_replacement_method: RareCategoryReplacement = RareCategoryReplacement.CONSTANT
    # Reserved for generators that support it; None means off.
    differential_privacy: dict | None = None
    # Seed for training; None picks a fixed default so training is reproducible.
    seed: int | None = 0


class Table(Model):
    """One table of a generator: its columns, keys and training settings."""

    name: str
    # Columns as read from the source; None until discovered from the connector's catalog.
    columns: list[Column] | None = None
    primary_key: Names | None = None
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    # Only these columns are used (keys always are); None includes all.
    included_columns: list[str] | None = None
    excluded_columns: list[str] = Field(default_factory=list)
    # Per-column overrides of encoding, type or sensitivity, by column name.
    column_overrides: dict[str, ColumnOverride] = Field(default_factory=dict)
    # Lookup table copied verbatim into every synthetic dataset and referenced by its real keys.
    original_data: bool = False
    # Column (or columns) ordering the rows of a child table within its parent: the sequence.
    order_by: Names | None = None
    # Row count from the source catalog, used to refuse datasets too small to learn from.
    rows: int | None = None
    model_configuration: ModelConfiguration | None = None

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns or [] if c.name == name), None)

    @property
    def context_key(self) -> ForeignKey | None:
        return next((fk for fk in self.foreign_keys if fk.is_context), None)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns or []]


class SourceChecks(Model):
    """What training does about key problems in the source data (docs/pipelines.md)."""

    # Rows sharing a primary key value: refuse to train (default), drop all but the first row
    # of each key, or keep them (generated keys are unique anyway).
    duplicate_keys: Literal["refuse", "drop", "keep"] = "refuse"
    # Rows whose foreign key matches no row of the referenced table: keep them (default; their
    # share is recorded and logged), drop them (and rows referencing them), or refuse to train.
    orphans: Literal["keep", "drop", "refuse"] = "keep"


class GeneratorConfig(Model):
    """What to learn: the tables, their relations and the training settings."""

    name: str = "generator"
    # Generator plugin kind, e.g. "fidelity" (the default engine) or "independent".
    generator: str = "fidelity"
    tables: list[Table]
    model_configuration: ModelConfiguration = Field(default_factory=ModelConfiguration)
    source_checks: SourceChecks = Field(default_factory=SourceChecks)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def settings(self, table: Table) -> ModelConfiguration:
        """The effective model configuration of a table."""
        return table.model_configuration or self.model_configuration

    def learned_tables(self) -> list[Table]:
        return [t for t in self.tables if not t.original_data]

    def root_tables(self) -> list[Table]:
        """Learned tables without a context key: where generation starts."""
        return [t for t in self.learned_tables() if t.context_key is None]

    def generation_order(self) -> list[Table]:
        """Tables ordered so every referenced table comes before the tables referencing it."""
        by_name = {t.name: t for t in self.tables}
        done: dict[str, Table] = {}

        def visit(table: Table, path: tuple[str, ...]) -> None:
            if table.name in done or table.name in path:
                return
            for fk in table.foreign_keys:
                parent = by_name.get(fk.referenced_table)
                if parent is not None:
                    visit(parent, (*path, table.name))
            done[table.name] = table

        for table in self.tables:
            visit(table, ())
        return list(done.values())


class SampleSpec(Model):
    """What to generate from a trained generator."""

    # Rows of each table; a root table without an entry gets as many rows as in training,
    # child tables follow the learned children-per-parent distribution unless set here.
    sizes: dict[str, int] = Field(default_factory=dict)
    seed: int = 0
    # Partition `partition` of `partitions`: each is computable on its own, deterministically.
    partition: int = Field(default=0, ge=0)
    partitions: int = Field(default=1, ge=1)
    # Sampling temperature and nucleus cut-off, for generators that support them.
    temperature: float = Field(default=1.0, gt=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    batch_size: int = Field(default=100_000, gt=0)

    @field_validator("sizes")
    @classmethod
    def _rows_in_range(cls, sizes: dict[str, int]) -> dict[str, int]:
        bad = [f"table '{t}' has {n} rows" for t, n in sizes.items() if n < 0]
        if bad:
            raise ValueError("; ".join(bad) + "; give 0 or more rows (0 generates an empty table)")
        huge = [
            f"table '{t}' asks for {n} rows" for t, n in sizes.items() if n > MAX_ROWS_PER_TABLE
        ]
        if huge:
            raise ValueError(
                "; ".join(huge) + f", more than the {MAX_ROWS_PER_TABLE:,} rows synthpipe "
                "generates per table; ask for fewer rows (or generate several datasets)"
            )
        return sizes


def check_sizes(sizes: dict[str, int], config: GeneratorConfig, where: str = "sizes") -> list[str]:
    """Problems of requested table sizes against a generator's tables; [] if none.

    Sizes apply to learned tables; original-data tables are copied as they are.
    """
    learned = [t.name for t in config.learned_tables()]
    copied = {t.name for t in config.tables if t.original_data}
    problems = []
    for table in sizes:
        if table in copied:
            problems.append(
                f"{where} sets the rows of table '{table}', which is original data copied "
                f"verbatim; remove '{table}' from {where}"
            )
        elif table not in learned:
            problems.append(
                f"{where} names unknown table '{table}'; tables of generator "
                f"'{config.name}': {', '.join(learned) or 'none'}"
            )
    return problems


_KEY_TYPES = {
    LogicalType.INTEGER: "integer",
    LogicalType.STRING: "string",
    LogicalType.CATEGORICAL: "string",
    LogicalType.TEXT: "string",
}


def _key_family(column: Column | None) -> str | None:
    if column is None:
        return None
    return _KEY_TYPES.get(column.type, column.type.value)


def validate_config(config: GeneratorConfig) -> list[str]:
    """Every rule the config breaks, each naming the table or column and the fix; [] if none."""
    problems: list[str] = []
    problems += _check_names(config)
    by_name = {t.name: t for t in config.tables}
    for table in config.tables:
        problems += _check_columns(table)
        problems += _check_foreign_keys(table, by_name)
        problems += _check_size(table)
    problems += _check_context_cycles(config)
    problems += _check_key_cycles(config)
    problems += _check_roots(config)
    problems += _check_original_data(config)
    return problems


def _check_names(config: GeneratorConfig) -> list[str]:
    from synthpipe.names import problem

    problems = []
    seen: set[str] = set()
    for table in config.tables:
        why = problem(table.name)
        if why is not None:  # table names become file names in the artifact store
            problems.append(
                f"table name {table.name!r} cannot be used as a file name: {why}; rename the "
                "table at the source, or leave it out (list the other tables in source.tables)"
            )
        if table.name in seen:
            problems.append(f"table '{table.name}' is defined twice; give each table one entry")
        seen.add(table.name)
        names = table.column_names
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"column '{table.name}.{dup}' is defined twice; rename or drop one")
    return problems


def _check_columns(table: Table) -> list[str]:
    if table.columns is None:
        return []
    problems = []
    known = set(table.column_names)
    fix = f"use one of: {', '.join(table.column_names)}"

    def unknown(col: str, where: str) -> None:
        if col not in known:
            problems.append(f"{where} names unknown column '{table.name}.{col}'; {fix}")

    for col in table.primary_key or []:
        unknown(col, f"primary key of table '{table.name}'")
    for fk in table.foreign_keys:
        for col in fk.columns:
            unknown(col, f"foreign key of table '{table.name}'")
    for col in table.included_columns or []:
        unknown(col, f"included_columns of table '{table.name}'")
    for col in table.excluded_columns:
        unknown(col, f"excluded_columns of table '{table.name}'")
    for col in table.order_by or []:
        unknown(col, f"order_by of table '{table.name}'")
    for col in table.column_overrides:
        unknown(col, f"column_overrides of table '{table.name}'")
    return problems


def _check_foreign_keys(table: Table, by_name: dict[str, Table]) -> list[str]:
    problems = []
    contexts = [fk for fk in table.foreign_keys if fk.is_context]
    if len(contexts) > 1:
        refs = ", ".join(f"{fk.columns[0]} -> {fk.referenced_table}" for fk in contexts)
        problems.append(
            f"table '{table.name}' has {len(contexts)} context foreign keys ({refs}); "
            "keep is_context on one and make the others plain foreign keys"
        )
    for fk in table.foreign_keys:
        parent = by_name.get(fk.referenced_table)
        where = f"foreign key {table.name}.{','.join(fk.columns)}"
        if parent is None:
            problems.append(
                f"{where} references unknown table '{fk.referenced_table}'; "
                f"add the table or fix the name (tables: {', '.join(by_name)})"
            )
            continue
        if not parent.primary_key:
            problems.append(
                f"{where} references table '{parent.name}', which has no primary key; "
                f"set primary_key on table '{parent.name}'"
            )
            continue
        targets = fk.referenced_columns or parent.primary_key
        if sorted(targets) != sorted(parent.primary_key):
            problems.append(
                f"{where} references {parent.name}({', '.join(targets)}), which is not the "
                f"primary key of '{parent.name}' ({', '.join(parent.primary_key)}): referenced "
                "rows must be unique; reference the primary key, or set primary_key of "
                f"'{parent.name}' to the referenced column(s)"
            )
            continue
        if len(targets) != len(fk.columns):
            problems.append(
                f"{where} has {len(fk.columns)} column(s) but '{parent.name}' key has "
                f"{len(targets)}; list one column per key column"
            )
            continue
        for child_col, parent_col in zip(fk.columns, targets, strict=True):
            problems += _check_key_types(table, child_col, parent, parent_col)
    return problems


def _check_key_types(table: Table, child_col: str, parent: Table, parent_col: str) -> list[str]:
    if table.columns is None or parent.columns is None:
        return []
    if parent.column(parent_col) is None:
        return [
            f"foreign key {table.name}.{child_col} references unknown column "
            f"'{parent.name}.{parent_col}'; use one of: {', '.join(parent.column_names)}"
        ]
    child, target = table.column(child_col), parent.column(parent_col)
    if child is None or _key_family(child) == _key_family(target):
        return []
    return [
        f"foreign key {table.name}.{child_col} is {child.type.value} but "
        f"{parent.name}.{parent_col} is {target.type.value}; make both the same type"
    ]


def _check_context_cycles(config: GeneratorConfig) -> list[str]:
    parent_of = {t.name: t.context_key.referenced_table for t in config.tables if t.context_key}
    problems, reported = [], set()
    for start in parent_of:
        path, node = [start], parent_of[start]
        while node in parent_of and node not in path:
            path.append(node)
            node = parent_of[node]
        if node in path:
            cycle = path[path.index(node) :]
            key = frozenset(cycle)
            if key not in reported:
                reported.add(key)
                problems.append(
                    f"context foreign keys form a cycle: {' -> '.join([*cycle, node])}; "
                    "set is_context: false on one of them"
                )
    return problems


def _check_key_cycles(config: GeneratorConfig) -> list[str]:
    """Foreign keys (context or not) between two or more tables that form a cycle: no table of
    it can be generated first. A table referencing itself is fine. Cycles made of context keys
    alone are reported by ``_check_context_cycles``."""
    edges = {
        t.name: sorted({fk.referenced_table for fk in t.foreign_keys} - {t.name})
        for t in config.tables
    }
    context = {t.name: t.context_key.referenced_table for t in config.tables if t.context_key}
    problems: list[str] = []
    state: dict[str, str] = {}  # "open" while on the DFS path, "done" after

    def walk(node: str, path: list[str]) -> None:
        state[node] = "open"
        for parent in edges[node]:
            if state.get(parent) == "open":
                cycle = path[path.index(parent) :]
                hops = zip(cycle, [*cycle[1:], parent], strict=True)
                if not all(context.get(a) == b for a, b in hops):
                    problems.append(
                        f"foreign keys form a cycle: {' -> '.join([*cycle, parent])}; no table "
                        "of it can be generated first; drop one of these foreign keys"
                    )
            elif parent in edges and parent not in state:
                walk(parent, [*path, parent])
        state[node] = "done"

    for start in edges:
        if start not in state:
            walk(start, [start])
    return problems


def _check_roots(config: GeneratorConfig) -> list[str]:
    roots = [t.name for t in config.root_tables()]
    if len(roots) > 1:
        return [
            f"{len(roots)} root tables ({', '.join(roots)}); a generator has exactly one table "
            "without a context foreign key: link the others to it with is_context: true, mark "
            "lookup tables original_data: true, or train them as separate generators"
        ]
    if not roots and config.learned_tables():
        return [
            "no root table: every learned table has a context foreign key; "
            "remove is_context from the table where generation should start"
        ]
    return []


def _check_original_data(config: GeneratorConfig) -> list[str]:
    referenced = {fk.referenced_table for t in config.tables for fk in t.foreign_keys}
    return [
        f"original-data table '{t.name}' is not referenced by any foreign key; "
        "add a foreign key to it or drop original_data"
        for t in config.tables
        if t.original_data and t.name not in referenced
    ]


def _check_size(table: Table) -> list[str]:
    if table.original_data or table.rows is None or table.rows >= MIN_TRAINING_ROWS:
        return []
    return [
        f"table '{table.name}' has {table.rows} rows, fewer than the {MIN_TRAINING_ROWS} "
        "needed to learn from; add data or mark it original_data: true to copy it verbatim"
    ]
