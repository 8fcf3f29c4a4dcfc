"""DbtBuildOperator: `dbt build` as an Airflow task after a synthetic delivery."""

from __future__ import annotations

import subprocess
import sys

import pytest
from airflow.sdk.exceptions import AirflowFailException

import synthpipe
from synthpipe.dbt.airflow import DbtBuildOperator
from synthpipe.store import Store


def test_build_on_freshly_delivered_tables_is_green(built, tmp_path):
    project, _ = built
    dataset = Store(project.home).datasets()[0]
    delivered = tmp_path / "delivered.duckdb"
    destination = {"connector": "duckdb", "options": {"path": str(delivered)}}
    synthpipe.deliver(dataset.id, {"destination": destination}, home=project.home)
    env = {
        **project.env(),
        "SYNTHPIPE_DELIVERED_DUCKDB": str(delivered),
        "SYNTHPIPE_DBT_DUCKDB": str(tmp_path / "dev.duckdb"),
        "SYNTHPIPE_DBT_EXPORTS": str(tmp_path / "exports.duckdb"),
    }
    operator = DbtBuildOperator(
        task_id="dbt_build",
        project_dir=str(project.root),
        profiles_dir=str(project.root),
        target="delivered",
        dataset={"dataset": dataset.id},
        env=env,
    )
    summary = operator.execute(context={})
    assert summary["failures"] == []
    assert summary["success"] is True
    assert len(Store(project.home).datasets()) == 1  # read, not generated


def test_failing_dbt_test_fails_the_task_without_retries(dbt_project):
    dbt_project.add_failing_test()
    operator = DbtBuildOperator(
        task_id="dbt_build",
        project_dir=str(dbt_project.root),
        profiles_dir=str(dbt_project.root),
        select=["stg_plots", "assert_no_plots"],
        extra_args=["--indirect-selection", "cautious"],
        env=dbt_project.env(),
    )
    with pytest.raises(AirflowFailException, match="assert_no_plots fail"):
        operator.execute(context={})


def test_dag_files_using_the_operator_do_not_import_dbt():
    code = (
        "import sys, synthpipe.dbt.airflow; "
        "assert not any(m == 'dbt' or m.startswith('dbt.') for m in sys.modules), 'dbt imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
