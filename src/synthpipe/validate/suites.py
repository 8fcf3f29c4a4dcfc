"""Derive one suite of checks per table from a generator's training schema and statistics.

What a faithful synthetic dataset must satisfy, learned from the real data: the exact column set
and Arrow types; not-null where training had no nulls; unique primary keys (compound keys with
the compound expectation); categorical values seen in training (plus ``_RARE_`` where value
protection replaces rare categories); numbers and dates within the training bounds (generators
clip inside them); the requested row count; every foreign key pointing at an existing row; keys
unique across partitions; children per parent within the training bounds. Columns marked
``sensitive: fake`` are not learned, so only their presence and type are checked. Users switch
derived checks off (``disable``) and add any GX expectation by name (``expectations``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from synthpipe.errors import ConfigError
from synthpipe.pipeline import Validation
from synthpipe.schema import (
    RARE_TOKEN,
    EncodingType,
    GeneratorConfig,
    LogicalType,
    RareCategoryReplacement,
    Table,
)
from synthpipe.store import GeneratorRecord
from synthpipe.validate import checks as c
from synthpipe.validate.checks import Check

NUMERIC_TYPES = ("int", "uint", "float", "double", "halffloat", "decimal")
TEMPORAL_TYPES = ("date", "timestamp")
SET_TYPES = ("string", "large_string", "string_view", "bool", "dictionary<")
# Encodings that invent new strings, so training's value set does not bound them.
NEW_VALUE_ENCODINGS = {EncodingType.TABULAR_CHARACTER, EncodingType.LANGUAGE_TEXT}


def derive_suites(
    generator: GeneratorRecord,
    spec: dict,
    settings: Validation | None = None,
    *,
    reference: Path | None = None,
) -> dict[str, list[Check]]:
    """Checks per table for a dataset of ``generator`` sampled with ``spec``.

    ``reference`` is the generator's folder of real training rows (``reference/train``), used
    for children-per-parent bounds and to tell NaN from null in float columns; without it
    those bounds and float not-null checks are not derived. ``settings``
    switches derived checks off and adds user expectations; every entry that names an unknown
    table or matches nothing raises ConfigError.
    """
    settings = settings or Validation()
    config = GeneratorConfig.model_validate(generator.config)
    bounds = _children_bounds(config, reference)
    suites = {
        table.name: _table_checks(
            config, table, generator, spec, bounds, _nan_columns(table.name, reference)
        )
        for table in config.generation_order()
    }
    suites = _disable(suites, settings.disable)
    return _add_user_expectations(suites, settings.expectations)


def _children_bounds(config: GeneratorConfig, reference: Path | None) -> dict:
    if reference is None or not reference.is_dir():
        return {}
    from synthpipe.validate.relational import training_children_bounds

    return training_children_bounds(config, reference)


def _nan_columns(table: str, reference: Path | None) -> set[str] | None:
    """Float columns holding NaN in the real training rows; None when they cannot be read.

    GX on pandas counts NaN as missing while training statistics count only nulls, so a
    float column is expected not-null only where training is known to hold no NaN either.
    """
    path = reference / f"{table}.parquet" if reference is not None else None
    if path is None or not path.is_file():
        return None
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    data = pq.read_table(path, columns=floats)
    return {name for name in floats if pc.any(pc.is_nan(data.column(name))).as_py()}


def output_columns(table: Table) -> list:
    """The columns a generated table holds: dropped columns never appear; fake ones are filled
    after sampling (original-data tables included)."""
    return [col for col in table.columns or [] if col.sensitive != "drop"]


def _table_checks(
    config: GeneratorConfig,
    table: Table,
    generator: GeneratorRecord,
    spec: dict,
    bounds: dict,
    nan_columns: set[str] | None,
) -> list[Check]:
    stats = generator.statistics.get(table.name, {})
    columns = output_columns(table)
    found = _schema_checks(table.name, columns, stats)
    found += _key_checks(table, stats, generator.training_rows.get(table.name))
    for col in columns:
        if col.sensitive is None:
            found += _value_checks(config, table, col, stats.get(col.name), nan_columns)
    found += _dataset_checks(config, table, generator, spec, bounds)
    return found


def _schema_checks(table: str, columns: list, stats: dict) -> list[Check]:
    names = [col.name for col in columns]
    found = [Check(table, c.COLUMN_SET, {"column_set": names}, "schema")]
    for col in columns:
        kwargs = {"column": col.name, "type_": _type(col, stats)}
        found.append(Check(table, c.ARROW_TYPE, kwargs, "schema"))
    return found


def _type(column, stats: dict) -> str:
    if column.sensitive is None and column.name in stats:
        return stats[column.name]["type"]
    from synthpipe.types import arrow_type

    return str(arrow_type(column))


def _key_columns(table: Table) -> set[str]:
    return set(table.primary_key or []) | {col for fk in table.foreign_keys for col in fk.columns}


def _key_checks(table: Table, stats: dict, rows: int | None) -> list[Check]:
    key = table.primary_key or []
    if table.original_data and len(key) == 1 and not _unique_in_training(stats, key[0], rows):
        return []  # a verbatim copy keeps the real data's duplicates or nulls
    found = [Check(table.name, c.NOT_NULL, {"column": col}) for col in key]
    if len(key) == 1:
        found.append(Check(table.name, c.UNIQUE, {"column": key[0]}))
    elif len(key) > 1:
        found.append(Check(table.name, c.COMPOUND_UNIQUE, {"column_list": list(key)}))
    return found


def _unique_in_training(stats: dict, column: str, rows: int | None) -> bool:
    entry = stats.get(column, {})
    return entry.get("null_count") == 0 and rows is not None and entry.get("distinct") == rows


def _value_checks(
    config: GeneratorConfig, table: Table, column, stats: dict | None, nan_columns
) -> list[Check]:
    if stats is None:
        return []
    found = []
    in_primary_key = column.name in (table.primary_key or [])  # already expected not null
    if not in_primary_key and _never_null(column.name, stats, nan_columns):
        found.append(Check(table.name, c.NOT_NULL, {"column": column.name}))
    if column.name in _key_columns(table):
        return found  # generated keys are new values: no ranges or value sets
    arrow = stats.get("type", "")
    if arrow.startswith(NUMERIC_TYPES + TEMPORAL_TYPES):
        found += _range(table.name, column.name, arrow, stats)
    elif arrow.startswith(SET_TYPES) and "values" in stats and _learned_as_categories(column):
        found.append(_value_set(config, table, column.name, arrow, stats["values"]))
    return found


def _never_null(name: str, stats: dict, nan_columns: set[str] | None) -> bool:
    if stats.get("null_count") != 0:
        return False
    if not stats.get("type", "").startswith(("float", "double", "halffloat")):
        return True
    if "nan_count" in stats:  # statistics that count NaN too settle it
        return stats["nan_count"] == 0
    return nan_columns is not None and name not in nan_columns


def _learned_as_categories(column) -> bool:
    return column.type not in (LogicalType.TEXT, LogicalType.LAT_LONG) and (
        column.encoding not in NEW_VALUE_ENCODINGS
    )


def _range(table: str, column: str, arrow: str, stats: dict) -> list[Check]:
    low, high = _bound(stats.get("min"), arrow), _bound(stats.get("max"), arrow)
    if low is None or high is None:
        return []
    return [Check(table, c.BETWEEN, {"column": column, "min_value": low, "max_value": high})]


def _bound(value, arrow: str):
    """A training bound as GX compares it: a number, or a datetime string for dates too
    (dates are validated as timestamps)."""
    if value is None:
        return None
    if arrow.startswith(TEMPORAL_TYPES):
        moment = value if isinstance(value, datetime) else None
        if moment is None and isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        moment = moment or datetime.fromisoformat(str(value))
        return moment.isoformat(sep=" ")
    if arrow.startswith(("int", "uint")):
        return int(value)
    number = float(Decimal(str(value)))
    return number if number == number and abs(number) != float("inf") else None


def _value_set(config: GeneratorConfig, table: Table, column: str, arrow: str, values) -> Check:
    settings = config.settings(table)
    allowed = list(values)
    replaces = (
        not table.original_data
        and settings.value_protection
        and settings.rare_category_replacement_method is RareCategoryReplacement.CONSTANT
        and not arrow.startswith("bool")
    )
    if replaces and RARE_TOKEN not in allowed:
        allowed.append(RARE_TOKEN)
    return Check(table.name, c.IN_SET, {"column": column, "value_set": allowed})


def _dataset_checks(
    config: GeneratorConfig, table: Table, generator: GeneratorRecord, spec: dict, bounds: dict
) -> list[Check]:
    found = []
    rows = _requested_rows(table, generator, spec)
    if rows is not None:
        found.append(Check(table.name, c.ROW_COUNT, {"value": rows}, "dataset"))
    if table.primary_key and not table.original_data:
        found.append(
            Check(
                table.name,
                c.UNIQUE_ACROSS_PARTITIONS,
                {"column_list": list(table.primary_key)},
                "dataset",
            )
        )
    for fk in table.foreign_keys:
        found.append(Check(table.name, c.NO_ORPHANS, _fk_kwargs(config, fk), "dataset"))
        requested = table.name in (spec.get("sizes") or {})
        if fk.is_context and table.name in bounds and not requested:
            low, high = bounds[table.name]
            kwargs = {**_fk_kwargs(config, fk), "min_value": low, "max_value": high}
            found.append(Check(table.name, c.CHILDREN_PER_PARENT, kwargs, "dataset"))
    return found


def _requested_rows(table: Table, generator: GeneratorRecord, spec: dict) -> int | None:
    """Rows the spec asks for: roots default to training rows, original data is copied whole,
    children are only bounded (per parent) unless a size was requested for them."""
    sizes = spec.get("sizes") or {}
    if table.original_data:
        return generator.training_rows.get(table.name)
    if table.name in sizes:
        return sizes[table.name]
    if table.context_key is None:
        return generator.training_rows.get(table.name)
    return None


def _fk_kwargs(config: GeneratorConfig, fk) -> dict:
    parent = config.table(fk.referenced_table)
    referenced = fk.referenced_columns or (parent.primary_key if parent else None) or []
    return {
        "column_list": list(fk.columns),
        "referenced_table": fk.referenced_table,
        "referenced_columns": list(referenced),
    }


# -- user settings ------------------------------------------------------------------------------


def _disable(suites: dict[str, list[Check]], entries: list[str]) -> dict[str, list[Check]]:
    """Drop derived checks matched by ``table``, ``table.column``, ``table.expectation`` or
    ``table.column.expectation``; an entry that matches nothing is a ConfigError."""
    if not entries:
        return suites
    unmatched = [e for e in entries if not any(_matches(e, k) for s in suites.values() for k in s)]
    if unmatched:
        known = sorted({k.name for s in suites.values() for k in s})
        raise ConfigError(
            [
                f"validation.disable entry '{e}' matches no derived check; use "
                "'table', 'table.column', 'table.expectation' or 'table.column.expectation' "
                f"(derived: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''})"
                for e in unmatched
            ]
        )
    return {
        table: [k for k in found if not any(_matches(e, k) for e in entries)]
        for table, found in suites.items()
    }


def _matches(entry: str, check: Check) -> bool:
    names = {check.table, f"{check.table}.{check.type}"}
    for column in [check.column, *check.columns]:
        if column:
            names |= {f"{check.table}.{column}", f"{check.table}.{column}.{check.type}"}
    return entry in names


def _add_user_expectations(
    suites: dict[str, list[Check]], expectations: dict[str, list[dict]]
) -> dict[str, list[Check]]:
    problems = []
    for table, items in expectations.items():
        if table not in suites:
            problems.append(
                f"validation.expectations names unknown table '{table}'; "
                f"tables: {', '.join(suites)}"
            )
            continue
        for i, item in enumerate(items):
            check, problem = _user_check(table, i, item)
            if problem:
                problems.append(problem)
            else:
                suites[table] = [*suites[table], check]
    if problems:
        raise ConfigError(problems)
    return suites


def _user_check(table: str, index: int, item) -> tuple[Check | None, str | None]:
    where = f"validation.expectations.{table}[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return None, f"{where} needs `type` (a GX expectation name) and optional `kwargs`"
    unknown = set(item) - {"type", "kwargs"}
    if unknown:
        return None, f"{where} has unknown key(s) {', '.join(sorted(unknown))}; use type, kwargs"
    kwargs = item.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        return None, f"{where}.kwargs must be a mapping of the expectation's arguments"
    return Check(table, item["type"], dict(kwargs), "rows", "user"), None
