"""Delivery speed: Adult-shaped rows written with mode overwrite into DuckDB, PostgreSQL and
MariaDB through the connectors (staging, bulk path and swap included).

The Adult training table (15 columns: 6 integers, 9 strings) is repeated to ROWS rows and held
in memory as Arrow batches of 65,536 rows, so the clock measures the delivery alone. Each
target gets one untimed warm-up write that creates the table, then RUNS timed overwrites; the
median is reported. Targets (issue 6): >= 1M rows/s into DuckDB, >= 150k rows/s into
PostgreSQL, >= 50k rows/s into MariaDB. Results go to bench/results/delivery.md.

    .venv/bin/python bench/delivery.py            # ROWS=1,000,000, RUNS=3
    .venv/bin/python bench/delivery.py 200000 3   # fewer rows
"""

from __future__ import annotations

import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from synthpipe.schema import Table
from synthpipe.types import columns_from_arrow

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "delivery.md"
ADULT = Path("/work/shared/data/adult/adult_train.parquet")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test"}
MARIA = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def adult_rows(rows: int) -> list[pa.RecordBatch]:
    """The Adult table repeated to ``rows`` rows, as batches of 65,536."""
    base = pq.read_table(ADULT).replace_schema_metadata(None)
    repeated = pa.concat_tables([base] * (rows // base.num_rows + 1)).slice(0, rows)
    return repeated.combine_chunks().to_batches(max_chunksize=65_536)


def timed_overwrites(connector, location, batches, runs: int) -> list[float]:
    """Seconds of each timed overwrite, after one untimed write that creates the table."""
    table = Table(name="adult", columns=columns_from_arrow(batches[0].schema))
    connector.write(table, batches, location, mode="overwrite")
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        written = connector.write(table, batches, location, mode="overwrite")
        seconds.append(time.perf_counter() - start)
        assert written == sum(b.num_rows for b in batches)
    return seconds


def bench_duckdb(batches, runs):
    from synthpipe.connectors.duckdb import DuckDBConnector

    with DuckDBConnector(path=":memory:") as duck:
        return timed_overwrites(duck, None, batches, runs)


def bench_postgres(batches, runs):
    import psycopg
    from synthpipe_postgres import PostgresConnector

    schema = f"sp_bench_{secrets.token_hex(3)}"
    args = {"host": PG["host"], "port": PG["port"], "user": PG["user"], "dbname": PG["database"]}
    with psycopg.connect(**args, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            with PostgresConnector(**PG, default_schema=schema) as pg:
                return timed_overwrites(pg, schema, batches, runs)
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def bench_mariadb(batches, runs, bulk="load_data"):
    import pymysql
    from synthpipe_mysql import MySQLConnector

    database = f"sp_bench_{secrets.token_hex(3)}"
    admin = pymysql.connect(**MARIA, autocommit=True)
    admin.cursor().execute(f"CREATE DATABASE `{database}`")
    try:
        with MySQLConnector(**MARIA, database=database, bulk=bulk) as maria:
            return timed_overwrites(maria, database, batches, runs)
    finally:
        admin.cursor().execute(f"DROP DATABASE `{database}`")
        admin.close()


TARGETS = [
    ("DuckDB (Arrow INSERT ... BY NAME)", bench_duckdb, 1_000_000, 1.0),
    ("PostgreSQL 15 (COPY csv)", bench_postgres, 150_000, 1.0),
    ("MariaDB 10.11 (LOAD DATA LOCAL)", bench_mariadb, 50_000, 1.0),
    (
        "MariaDB 10.11 (bulk: insert, the fallback path)",
        lambda b, r: bench_mariadb(b, r, "insert"),
        50_000,
        0.2,
    ),
]


def main(rows: int, runs: int) -> None:
    batches = adult_rows(rows)
    lines = []
    for name, bench, target, share in TARGETS:
        part = batches if share == 1.0 else _first_rows(batches, int(rows * share))
        count = sum(b.num_rows for b in part)
        try:
            seconds = bench(part, runs)
        except Exception as exc:  # a missing service is reported, not fatal
            lines.append(f"| {name} | {count:,} | skipped: {type(exc).__name__}: {exc} | | | |")
            continue
        median = statistics.median(seconds)
        rate = count / median
        verdict = "yes" if rate >= target else "NO"
        runs_text = ", ".join(f"{s:.2f}" for s in seconds)
        lines.append(
            f"| {name} | {count:,} | {runs_text} | {median:.2f} | {rate:,.0f} | "
            f"{target:,} {verdict} |"
        )
        print(lines[-1], flush=True)
    _report(lines, rows, runs)


def _first_rows(batches, rows):
    return pa.Table.from_batches(batches).slice(0, rows).to_batches(max_chunksize=65_536)


def _report(lines: list[str], rows: int, runs: int) -> None:
    head = (
        f"Adult-shaped rows (15 columns) delivered with mode overwrite; {runs} timed runs after "
        f"one untimed warm-up, median reported. Machine: {platform.machine()}, "
        f"Python {platform.python_version()}, shared 2-core container (timings are noisy; "
        f"load average {os.getloadavg()[0]:.1f} when the results were written).\n"
        f"Command: `.venv/bin/python bench/delivery.py {rows} {runs}`\n\n"
        "| destination | rows | seconds per run | median s | rows/s | target rows/s, met |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(head + "\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    main(*(arguments + [1_000_000, 3][len(arguments) :]))
