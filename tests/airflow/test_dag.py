"""DAGs built from pipeline files, and the DAG files in dags/."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from airflow.sdk import Asset, AssetAlias
from airflow_support import DAGS, DEMO, duckdb_delivery, write_pipeline

from synthpipe.airflow import pipeline_dag, pipeline_dags

HEAVY = ("pyarrow", "pandas", "numpy", "sklearn", "scipy", "duckdb", "psycopg", "faker",
         "great_expectations", "dbt")  # fmt: skip


def pg_delivery(location: str = "synthetic") -> dict:
    return {
        "destination": {"connector": "postgres", "options": {"airflow_conn_id": "warehouse"}},
        "location": location,
    }


def test_schedule_retries_owner_and_tags_come_from_the_file():
    dag = pipeline_dag(DEMO)
    assert dag.dag_id == "ratdat_demo"
    assert dag.schedule == "@daily"
    assert dag.default_args["retries"] == 1
    assert dag.default_args["owner"] == "data-platform"
    assert set(dag.tags) == {"synthpipe", "demo"}


def test_tasks_run_train_generate_commit_validate_then_every_delivery():
    dag = pipeline_dag(DEMO)
    downstream = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert downstream == {
        "train": ["create_dataset"],
        "create_dataset": ["commit_dataset", "generate_partition"],
        "generate_partition": ["commit_dataset"],
        # deliveries read the commit's result; they run after validate too
        "commit_dataset": ["deliver_duckdb", "deliver_files", "report", "validate"],
        "report": [],
        "validate": ["deliver_duckdb", "deliver_files"],
        "deliver_duckdb": [],
        "deliver_files": [],
    }


def test_generation_maps_one_task_per_partition(tmp_path):
    path = write_pipeline(tmp_path, "parts", schedule={"partitions": 4})
    dag = pipeline_dag(path)
    mapped = dag.get_task("generate_partition")
    assert mapped.expand_input.value == {"partition": [0, 1, 2, 3]}
    assert dag.get_task("create_dataset").partitions == 4


def test_quality_gates_make_validation_wait_for_the_qa_report(tmp_path):
    path = write_pipeline(tmp_path, "gated", validation={"gates": {"min_accuracy": 0.5}})
    assert pipeline_dag(path).get_task("validate").upstream_task_ids == {
        "commit_dataset", "report"
    }  # fmt: skip


def test_without_validation_delivery_follows_the_commit(tmp_path):
    path = write_pipeline(tmp_path, "novalid", validation={"enabled": False})
    dag = pipeline_dag(path)
    assert "validate" not in dag.task_ids
    assert dag.get_task("deliver_duckdb").upstream_task_ids == {"commit_dataset"}


def test_delivery_tasks_declare_an_asset_per_table_for_downstream_dags(tmp_path):
    path = write_pipeline(tmp_path, "assets", delivery=[duckdb_delivery(tmp_path / "o.duckdb")])
    outlets = pipeline_dag(path).get_task("deliver_duckdb").outlets
    uris = sorted(o.uri for o in outlets if isinstance(o, Asset))
    base = f"duckdb://localhost{(tmp_path / 'o.duckdb').resolve()}/main"
    assert uris == [f"{base}/plots", f"{base}/species", f"{base}/surveys"]
    assert AssetAlias("synthpipe/assets/deliver_duckdb") in outlets


def test_deliveries_through_airflow_connections_emit_through_an_alias(tmp_path):
    path = write_pipeline(tmp_path, "viaconn", delivery=[pg_delivery()])
    outlets = pipeline_dag(path).get_task("deliver_postgres").outlets
    assert outlets == [AssetAlias("synthpipe/viaconn/deliver_postgres")]


def test_repeated_destination_kinds_get_numbered_tasks(tmp_path):
    path = write_pipeline(tmp_path, "two", delivery=[pg_delivery("a"), pg_delivery("b")])
    assert {"deliver_postgres_0", "deliver_postgres_1"} <= set(pipeline_dag(path).task_ids)


def test_seed_is_a_dag_param_defaulting_to_the_file():
    dag = pipeline_dag(DEMO)
    assert dag.params["seed"] == 42
    assert dag.get_task("create_dataset").seed == "{{ params.seed }}"


def test_one_dag_per_pipeline_file_and_broken_files_are_skipped(tmp_path, caplog):
    write_pipeline(tmp_path, "first")
    write_pipeline(tmp_path, "second")
    (tmp_path / "broken.yaml").write_text("name: broken\nsource: {connector: files, nope: 1}\n")
    dags = pipeline_dags(tmp_path)
    assert sorted(dags) == ["first", "second"]
    assert "broken.yaml skipped" in caplog.text


def test_every_dag_file_in_dags_imports_without_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert "ratdat_demo" in bag.dag_ids


def test_parsing_dags_imports_no_heavy_library():
    script = textwrap.dedent(f"""
        import runpy, sys
        runpy.run_path({str(DAGS / "synthetic_refresh.py")!r})
        print(",".join(m for m in {HEAVY!r} if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_dag_arguments_win_over_the_file_and_training_can_be_reused():
    dag = pipeline_dag(DEMO, dag_id="nightly", reuse_generator=True, schedule="@hourly")
    assert (dag.dag_id, dag.schedule) == ("nightly", "@hourly")
    assert dag.get_task("train").reuse is True
