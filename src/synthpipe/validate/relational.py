"""Checks over the whole dataset that GX lacks, run in DuckDB over the parquet parts.

Great Expectations sees one table (one chunk of it) at a time; these checks need all parts of
one or two tables at once: the row count, foreign keys without a parent row (an anti-join),
primary keys generated in more than one partition, and children per parent. Each returns the
same raw result a GX expectation does (success, observed value, unexpected count, examples), so
reports treat both alike. Paths are bound as parameters and identifiers quoted: nothing from
the data is formatted into SQL. Parts are read by column name, so a part with a stray column
(which the schema checks report) does not stop these checks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from synthpipe.validate import checks as c
from synthpipe.validate.checks import Check

if TYPE_CHECKING:
    import duckdb

    from synthpipe.schema import GeneratorConfig

EXAMPLES = 20  # unexpected values kept per check, as GX's partial_unexpected_list
CHILD = "read_parquet($child, union_by_name = true)"
PARENT = "read_parquet($parent, union_by_name = true)"
PARTS = "read_parquet($parts, filename = true, union_by_name = true)"


def quote(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _join(left: str, right: str, left_cols: list[str], right_cols: list[str]) -> str:
    pairs = zip(left_cols, right_cols, strict=True)
    return " AND ".join(f"{left}.{quote(a)} = {right}.{quote(b)}" for a, b in pairs)


def _not_null(alias: str, columns: list[str]) -> str:
    return " AND ".join(f"{alias}.{quote(col)} IS NOT NULL" for col in columns)


def _select(alias: str, columns: list[str]) -> str:
    return ", ".join(f"{alias}.{quote(col)}" for col in columns)


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection for one validation run."""
    import duckdb

    return duckdb.connect(":memory:")


# -- training bounds ----------------------------------------------------------------------------


def _per_parent_sql(fk_cols: list[str], key_cols: list[str]) -> str:
    """Children per parent row (zeros included) of ``$child`` rows under ``$parent`` rows."""
    group, on = _select("c", fk_cols), _join("p", "counts", key_cols, fk_cols)
    return (
        f"WITH counts AS (SELECT {group}, count(*) AS n FROM {CHILD} c "
        f"WHERE {_not_null('c', fk_cols)} GROUP BY ALL), "
        f"per_parent AS (SELECT {_select('p', key_cols)}, coalesce(counts.n, 0) AS n "
        f"FROM {PARENT} p LEFT JOIN counts ON {on}) "
    )


def training_children_bounds(config: GeneratorConfig, reference: Path) -> dict[str, tuple]:
    """Fewest and most children per parent in the real training rows, per child table."""
    bounds = {}
    con = connect()
    try:
        for table in config.tables:
            fk = table.context_key
            if fk is None:
                continue
            parent = config.table(fk.referenced_table)
            files = reference / f"{table.name}.parquet", reference / f"{parent.name}.parquet"
            if not all(f.is_file() for f in files):
                continue
            keys = fk.referenced_columns or parent.primary_key
            sql = _per_parent_sql(fk.columns, keys) + "SELECT min(n), max(n) FROM per_parent"
            params = {"child": str(files[0]), "parent": str(files[1])}
            low, high = con.execute(sql, params).fetchone()
            if low is not None:
                bounds[table.name] = (int(low), int(high))
    finally:
        con.close()
    return bounds


# -- dataset checks -----------------------------------------------------------------------------


def evaluate(check: Check, parts: dict[str, list[Path]], con) -> dict:
    """The raw result of one dataset-level check over the dataset's parts."""
    evaluator = EVALUATORS[check.type]
    try:
        return evaluator(check, parts, con)
    except Exception as exc:  # a corrupted part (missing column, wrong type) fails the check
        return {"success": False, "exception": f"{type(exc).__name__}: {exc}"}


def _paths(parts: dict[str, list[Path]], table: str) -> list[str]:
    return [str(p) for p in parts.get(table, [])]


def row_count(check: Check, parts: dict[str, list[Path]], con) -> dict:
    import pyarrow.parquet as pq

    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parts.get(check.table, []))
    return {"success": rows == check.kwargs["value"], "observed_value": rows}


def _examples(rows: list[tuple], names: list[str]) -> list:
    if len(names) == 1:
        return [row[0] for row in rows]
    return [dict(zip(names, row, strict=False)) for row in rows]


def orphans(check: Check, parts: dict[str, list[Path]], con) -> dict:
    """Child rows whose (non-null) foreign key matches no row of the referenced table."""
    fk_cols, key_cols = check.kwargs["column_list"], check.kwargs["referenced_columns"]
    child, parent = _paths(parts, check.table), _paths(parts, check.kwargs["referenced_table"])
    if not child:
        return {"success": True, "observed_value": 0, "unexpected_count": 0, "element_count": 0}
    source = (
        f"FROM {CHILD} c WHERE {_not_null('c', fk_cols)} AND NOT EXISTS "
        f"(SELECT 1 FROM {PARENT} p WHERE {_join('p', 'c', key_cols, fk_cols)})"
    )
    if not parent:  # nothing to reference: every non-null key is an orphan
        source = f"FROM {CHILD} c WHERE {_not_null('c', fk_cols)}"
    params = {"child": child, "parent": parent} if parent else {"child": child}
    count = con.execute(f"SELECT count(*) {source}", params).fetchone()[0]
    examples = f"SELECT DISTINCT {_select('c', fk_cols)} {source} LIMIT {EXAMPLES}"
    rows = con.execute(examples, params).fetchall()  # fetch now: execute returns `con` itself
    total = con.execute(f"SELECT count(*) FROM {CHILD}", {"child": child}).fetchone()
    return {
        "success": count == 0,
        "observed_value": count,
        "unexpected_count": count,
        "element_count": total[0],
        "unexpected_examples": _examples(rows, fk_cols),
    }


def across_partitions(check: Check, parts: dict[str, list[Path]], con) -> dict:
    """Key values present in more than one partition's part file."""
    keys, files = check.kwargs["column_list"], _paths(parts, check.table)
    if len(files) < 2:
        return {"success": True, "observed_value": 0, "unexpected_count": 0}
    source = (
        f"FROM (SELECT DISTINCT {_select('t', keys)}, t.filename "
        f"FROM {PARTS} t WHERE {_not_null('t', keys)}) d "
        f"GROUP BY ALL HAVING count(*) > 1"
    )
    columns = ", ".join(quote(k) for k in keys)
    params = {"parts": files}
    count = con.execute(f"SELECT count(*) FROM (SELECT {columns} {source})", params).fetchone()[0]
    rows = con.execute(f"SELECT {columns} {source} LIMIT {EXAMPLES}", params).fetchall()
    return {
        "success": count == 0,
        "observed_value": count,
        "unexpected_count": count,
        "unexpected_examples": _examples(rows, keys),
    }


def children_per_parent(check: Check, parts: dict[str, list[Path]], con) -> dict:
    """Parents whose number of children lies outside the training bounds (zeros count)."""
    kwargs = check.kwargs
    fk_cols, key_cols = kwargs["column_list"], kwargs["referenced_columns"]
    child, parent = _paths(parts, check.table), _paths(parts, kwargs["referenced_table"])
    if not parent:
        return {"success": True, "observed_value": None, "unexpected_count": 0}
    low, high = kwargs["min_value"], kwargs["max_value"]
    base = _per_parent_sql(fk_cols, key_cols)
    if not child:  # no child rows at all: every parent has none
        base = f"WITH per_parent AS (SELECT *, 0 AS n FROM {PARENT}) "
    outside = f"n < {int(low)} OR n > {int(high)}"
    params = {"child": child, "parent": parent} if child else {"parent": parent}
    summary = con.execute(
        base + f"SELECT count(*) FILTER (WHERE {outside}), min(n), max(n), count(*) "
        "FROM per_parent",
        params,
    ).fetchone()
    examples = con.execute(
        base + f"SELECT {_select('per_parent', key_cols)}, n FROM per_parent "
        f"WHERE {outside} LIMIT {EXAMPLES}",
        params,
    ).fetchall()
    return {
        "success": summary[0] == 0,
        "observed_value": {"min": summary[1], "max": summary[2]},
        "unexpected_count": summary[0],
        "element_count": summary[3],
        "unexpected_examples": [
            {"parent": _examples([row[:-1]], key_cols)[0], "children": row[-1]} for row in examples
        ],
    }


EVALUATORS: dict[str, Callable] = {
    c.ROW_COUNT: row_count,
    c.NO_ORPHANS: orphans,
    c.UNIQUE_ACROSS_PARTITIONS: across_partitions,
    c.CHILDREN_PER_PARENT: children_per_parent,
}
