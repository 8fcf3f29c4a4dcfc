"""End to end: `airflow dags test` runs the refresh DAGs of dags/synthetic_refresh.py on a
SQLite metadata database, delivering to DuckDB and (through an Airflow connection) PostgreSQL.

The pipelines are the shipped demo's (dags/pipelines/ratdat_demo.yaml: surveys as the root
table, plots and species as original-data lookups) with the fast ``independent`` generator.
The module runs three DAG runs once, in order, and the tests check what they left:
1. refresh_demo, seed 42 (the file's): train -> generate in 3 mapped partitions -> validate
   -> deliver;
2. refresh_demo again, seed 7: the destinations are overwritten with the second dataset;
3. refresh_failing (an expectation no dataset meets, 30 surveys): validation fails, nothing
   is delivered, the second run's tables stay.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml
from airflow_support import AIRFLOW, DAGS, SHIPPED_DEMO, duckdb_delivery, pg_query

from synthpipe.connectors.sql import DELIVERY_LOG
from synthpipe.engine import read_dataset
from synthpipe.store import Status, Store

pytestmark = [pytest.mark.slow, pytest.mark.services]

TABLES = ["plots", "surveys", "species"]
ORPHANS = (
    "SELECT count(*) FROM main.surveys s"
    " WHERE s.plot_id NOT IN (SELECT plot_id FROM main.plots)"
    " OR (s.species_id IS NOT NULL"
    " AND s.species_id NOT IN (SELECT species_id FROM main.species))"
)
IMPOSSIBLE = {"surveys": [{"type": "expect_table_row_count_to_equal", "kwargs": {"value": 1}}]}


@dataclass
class Runs:
    """What the three DAG runs left behind."""

    outputs: list[subprocess.CompletedProcess]
    airflow_db: Path
    home: Path
    duckdb: Path
    schema: str

    def datasets(self, dag_id: str) -> list:
        store = Store(self.home)
        return [d for d in store.datasets() if d.name.startswith(f"{dag_id}-")]

    def query(self, sql: str, *args) -> list[tuple]:
        with sqlite3.connect(self.airflow_db) as con:
            return con.execute(sql, args).fetchall()

    def states(self, run: int) -> dict[tuple[str, int], str]:
        """Task states of the ``run``-th DAG run (0-based, in the order they ran)."""
        run_ids = [r[0] for r in self.query("SELECT run_id FROM dag_run ORDER BY id")]
        rows = self.query(
            "SELECT task_id, map_index, state FROM task_instance WHERE run_id = ?", run_ids[run]
        )
        return {(task, index): state for task, index, state in rows}


def refresh_pipeline(folder: Path, name: str, out: Path, schema: str, **sections) -> Path:
    """The shipped demo pipeline, trained with ``independent``, delivering to DuckDB and
    PostgreSQL, with ``sections`` replaced."""
    postgres = {
        "destination": {"connector": "postgres", "options": {"airflow_conn_id": "synth_pg"}},
        "location": schema,
        "create_constraints": True,
    }
    data = yaml.safe_load(SHIPPED_DEMO.read_text())
    data["generator"]["generator"] = "independent"  # the always-available, fast baseline
    data.update(
        name=name, delivery=[duckdb_delivery(out), postgres],
        schedule={"cron": None, "retries": 0, "owner": "qa", "tags": ["test"], "partitions": 3},
        **sections,
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def runs(airflow_db, postgres, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("refresh")
    schema = f"sp_refresh_{os.getpid()}"
    pg_query(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    pg_query(f'CREATE SCHEMA "{schema}"')
    out = root / "out" / "synthetic.duckdb"
    refresh_pipeline(root / "pipelines", "refresh_demo", out, schema)
    refresh_pipeline(
        root / "pipelines", "refresh_failing", out, schema,
        generation={"sizes": {"surveys": 30}, "seed": 1},
        validation={"expectations": IMPOSSIBLE},
    )  # fmt: skip
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "SYNTHPIPE_PIPELINES": str(root / "pipelines"),
        "SYNTHPIPE_HOME": str(root / "home"),
        "AIRFLOW_CONN_SYNTH_PG": json.dumps(
            {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres",
             "schema": "postgres"}
        ),
    }  # fmt: skip
    commands = [
        ["refresh_demo"],
        ["refresh_demo", "-c", json.dumps({"seed": 7})],
        ["refresh_failing"],
    ]
    outputs = [
        subprocess.run([AIRFLOW, "dags", "test", *c], env=env, capture_output=True, text=True)
        for c in commands
    ]
    yield Runs(outputs, airflow_db / "airflow.db", root / "home", out, schema)
    pg_query(f'DROP SCHEMA "{schema}" CASCADE')


def duck(runs: Runs, sql: str) -> list[tuple]:
    with duckdb.connect(str(runs.duckdb), read_only=True) as con:
        return con.execute(sql).fetchall()


def pg(runs: Runs, sql: str) -> list[tuple]:
    return pg_query(sql.replace("main.", f'"{runs.schema}".'))


def test_refresh_dag_runs_every_task_successfully(runs):
    assert runs.outputs[0].returncode == 0, runs.outputs[0].stdout[-3000:]
    states = runs.states(0)
    expected = ["train", "create_dataset", "commit_dataset", "report", "validate",
                "deliver_duckdb", "deliver_postgres"]  # fmt: skip
    assert {t: states.get((t, -1)) for t in expected} == dict.fromkeys(expected, "success")


def test_generation_ran_as_one_mapped_task_per_partition(runs):
    states = runs.states(0)
    mapped = {i: s for (t, i), s in states.items() if t == "generate_partition"}
    assert mapped == {0: "success", 1: "success", 2: "success"}


@pytest.mark.parametrize("query", [duck, pg], ids=["duckdb", "postgres"])
def test_delivered_tables_hold_the_latest_dataset_rows(runs, query):
    latest = runs.datasets("refresh_demo")[-1]
    counts = {t: query(runs, f"SELECT count(*) FROM main.{t}")[0][0] for t in TABLES}
    assert counts == {t: latest.tables[t]["rows"] for t in TABLES}


def test_second_run_generated_a_different_dataset(runs):
    first, second = runs.datasets("refresh_demo")
    assert (first.spec["seed"], second.spec["seed"]) == (42, 7)
    store = Store(runs.home)
    surveys = [read_dataset(store, d.id, "surveys").sort_by("record_id") for d in (first, second)]
    assert not surveys[0].equals(surveys[1])


@pytest.mark.parametrize("query", [duck, pg], ids=["duckdb", "postgres"])
def test_delivered_keys_are_unique_and_foreign_keys_resolve(runs, query):
    for table, key in (("plots", "plot_id"), ("surveys", "record_id"), ("species", "species_id")):
        assert query(runs, f"SELECT count(*) - count(DISTINCT {key}) FROM main.{table}") == [(0,)]
    orphans = query(runs, ORPHANS)
    assert orphans == [(0,)]


def test_overwrite_leaves_no_other_tables(runs):
    # the tables and the delivery log (retried appends are no-ops); no staging tables
    delivered = sorted([*TABLES, DELIVERY_LOG])
    assert sorted(r[0] for r in duck(runs, "SHOW TABLES")) == delivered
    in_schema = pg(runs, (
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_schema = '{runs.schema}'"
    ))  # fmt: skip
    assert sorted(r[0] for r in in_schema) == delivered


def test_each_delivered_table_is_an_asset_event(runs):
    events = runs.query(
        "SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id"
    )
    uris = {uri for uri, _ in events}
    for table in TABLES:
        assert f"duckdb://localhost{runs.duckdb.resolve()}/main/{table}" in uris
        assert f"postgres://127.0.0.1:5432/postgres/{runs.schema}/{table}" in uris
    assert all(json.loads(extra)["rows"] > 0 for _, extra in events)


def test_failed_validation_fails_the_validate_task_and_skips_delivery(runs):
    states = runs.states(2)
    assert states[("validate", -1)] == "failed"
    assert states[("deliver_duckdb", -1)] == "upstream_failed"
    assert states[("deliver_postgres", -1)] == "upstream_failed"


def test_failed_validation_message_is_readable(runs):
    log = runs.outputs[2].stdout + runs.outputs[2].stderr
    assert "FAILED validation" in log
    assert "surveys: expect_table_row_count_to_equal failed: expected 1 rows, found 30" in log
    assert "destinations keep their previous data" in log


def test_failed_validation_is_recorded_on_the_dataset(runs):
    (failing,) = runs.datasets("refresh_failing")
    assert failing.status is Status.DONE
    assert failing.validation["success"] is False


def test_report_task_wrote_the_qa_report_beside_each_dataset(runs):
    for dataset in runs.datasets("refresh_demo"):
        folder = Store(runs.home).dataset_dir(dataset.id)
        metrics = json.loads((folder / "qa_metrics.json").read_text())
        assert (folder / "qa_report.html").is_file()
        assert metrics["headline"]["accuracy"] is not None
