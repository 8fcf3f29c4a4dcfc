"""The deliver operator: overwrite semantics, Asset events, and the validation policy, against
real DuckDB files and a real PostgreSQL."""

from __future__ import annotations

import json

import duckdb
import pytest
from airflow.sdk import Asset, AssetAlias
from airflow.sdk.exceptions import AirflowFailException
from airflow_support import duckdb_delivery, pg_query

from synthpipe.airflow.operators import SynthpipeDeliverOperator, SynthpipeGenerateOperator
from synthpipe.connectors.sql import DELIVERY_LOG
from synthpipe.store import Store

TABLES = ["plots", "surveys", "species"]
TABLES_SQL = "SELECT table_name FROM information_schema.tables"
# What a delivery leaves: the tables and the delivery log (which makes retried appends no-ops);
# no staging tables.
DELIVERED = sorted([*TABLES, DELIVERY_LOG])


def make_dataset(home, context, plots: int, seed: int = 0) -> dict:
    generator = Store(home).generators()[0].id
    op = SynthpipeGenerateOperator(
        task_id="generate", generator=generator, sizes={"plots": plots}, seed=seed, home=str(home)
    )
    return op.execute(context)


def deliver(home, context, dataset, **kwargs) -> dict:
    op = SynthpipeDeliverOperator(task_id="deliver", dataset=dataset, home=str(home), **kwargs)
    return op.execute(context)


def duck_counts(path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: con.execute(f'SELECT count(*) FROM main."{t}"').fetchone()[0] for t in TABLES}


def duck_tables(path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return sorted(r[0] for r in con.execute(TABLES_SQL).fetchall())


def test_delivery_returns_rows_and_asset_uris_per_table(trained_home, tmp_path, context):
    dataset = make_dataset(trained_home, context, plots=6)
    result = deliver(trained_home, context, dataset, delivery=duckdb_delivery(tmp_path / "o.db"))
    assert {t: v["rows"] for t, v in result["tables"].items()} == dataset["tables"]
    assert result["tables"]["plots"]["uri"] == (
        f"duckdb://localhost{(tmp_path / 'o.db').resolve()}/main/plots"
    )
    assert result["destination"] == "duckdb"
    assert len(json.dumps(result)) < 2048


def test_tables_known_when_the_dag_is_built_are_static_outlets(trained_home, tmp_path, context):
    dataset = make_dataset(trained_home, context, plots=4)
    op = SynthpipeDeliverOperator(
        task_id="deliver", dataset=dataset, delivery=duckdb_delivery(tmp_path / "s.db"),
        tables=TABLES, home=str(trained_home),
    )  # fmt: skip
    assets = [o for o in op.outlets if isinstance(o, Asset)]
    assert sorted(a.uri.rsplit("/", 1)[1] for a in assets) == sorted(TABLES)
    op.execute(context)
    for asset in assets:
        extra = context["outlet_events"][asset].extra
        assert extra["dataset"] == dataset["dataset"]
        assert extra["rows"] == dataset["tables"][extra["table"]]


def test_tables_known_only_at_run_time_are_emitted_through_the_alias(
    trained_home, tmp_path, context
):
    dataset = make_dataset(trained_home, context, plots=4)
    op = SynthpipeDeliverOperator(
        task_id="deliver", dataset=dataset, delivery=duckdb_delivery(tmp_path / "a.db"),
        home=str(trained_home),
    )  # fmt: skip
    (alias,) = op.outlets
    assert isinstance(alias, AssetAlias)
    result = op.execute(context)
    events = context["outlet_events"][alias].asset_alias_events
    assert sorted(e.dest_asset_key.uri for e in events) == sorted(
        v["uri"] for v in result["tables"].values()
    )


def test_second_delivery_overwrites_without_duplicates_or_leftovers(
    trained_home, tmp_path, context
):
    target = duckdb_delivery(tmp_path / "w.db")
    deliver(trained_home, context, make_dataset(trained_home, context, plots=10), delivery=target)
    second = make_dataset(trained_home, context, plots=3, seed=1)
    deliver(trained_home, context, second, delivery=target)
    assert duck_counts(tmp_path / "w.db") == second["tables"]
    assert duck_tables(tmp_path / "w.db") == DELIVERED  # no staging tables left
    with duckdb.connect(str(tmp_path / "w.db"), read_only=True) as con:
        dupes = con.execute("SELECT count(*) - count(DISTINCT record_id) FROM surveys").fetchone()
    assert dupes == (0,)


def test_dataset_that_failed_validation_is_refused_and_destination_kept(
    trained_home, tmp_path, context
):
    target = duckdb_delivery(tmp_path / "v.db")
    first = make_dataset(trained_home, context, plots=5)
    deliver(trained_home, context, first, delivery=target)
    failed = make_dataset(trained_home, context, plots=8)
    _record_validation(trained_home, failed["dataset"], success=False)
    with pytest.raises(AirflowFailException, match="failed validation and is not delivered"):
        deliver(trained_home, context, failed, delivery=target)
    assert duck_counts(tmp_path / "v.db") == first["tables"]


def test_force_delivers_a_failed_dataset_and_records_it(trained_home, tmp_path, context):
    failed = make_dataset(trained_home, context, plots=5)
    _record_validation(trained_home, failed["dataset"], success=False)
    result = deliver(
        trained_home, context, failed, delivery=duckdb_delivery(tmp_path / "f.db"), force=True
    )
    assert result["forced"] is True
    assert Store(trained_home).dataset(failed["dataset"]).forced_delivery


def _record_validation(home, dataset_id: str, *, success: bool) -> None:
    """Put a validation outcome on the dataset, as the validate step records it."""
    store = Store(home)
    record = store.dataset(dataset_id)
    record.validation = {"success": success, "summary": "set by the test"}
    store.save(record)


def test_delivery_to_an_airflow_postgres_connection(trained_home, pg_schema, context, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_SYNTH_PG",
        json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 5432,
                    "login": "postgres", "schema": "postgres"}),
    )  # fmt: skip
    first = make_dataset(trained_home, context, plots=7)
    deliver(trained_home, context, first, conn_id="synth_pg", location=pg_schema)
    second = make_dataset(trained_home, context, plots=4, seed=2)
    result = deliver(
        trained_home, context, second, conn_id="synth_pg", location=pg_schema,
        create_constraints=True,
    )  # fmt: skip
    counts = {t: pg_query(f'SELECT count(*) FROM "{pg_schema}"."{t}"')[0][0] for t in TABLES}
    assert counts == second["tables"]
    assert (
        result["tables"]["plots"]["uri"] == f"postgres://127.0.0.1:5432/postgres/{pg_schema}/plots"
    )
    leftovers = pg_query(
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{pg_schema}'"
    )
    assert sorted(r[0] for r in leftovers) == DELIVERED
