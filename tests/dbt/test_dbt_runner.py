"""run_dbt: dbt in-process, summarised as JSON-safe data with per-node status and timing."""

from __future__ import annotations

import json

import pytest

from synthpipe.dbt import DbtRunError, dbt_build, run_dbt


def test_summary_is_json_safe(built):
    _, summary = built
    assert json.loads(json.dumps(summary)) == summary


def test_summary_has_status_and_timing_per_node(built):
    _, summary = built
    models = {n["name"]: n for n in summary["nodes"] if n["resource_type"] == "model"}
    assert set(models) == {
        "stg_plots",
        "stg_surveys",
        "stg_species",
        "fct_captures",
        "plot_summary",
        "plot_summary_export",
    }
    assert all(m["status"] == "success" for m in models.values())
    assert all(m["timing"]["execute"] >= 0 for m in models.values())
    assert summary["counts"]["pass"] == len([n for n in summary["nodes"] if n["status"] == "pass"])


def test_failing_dbt_test_is_listed_with_its_failure_count(dbt_project):
    dbt_project.add_failing_test()
    args = ["--select", "stg_plots", "assert_no_plots", "--indirect-selection", "cautious"]
    summary = dbt_project.run(["build", *args])
    assert summary["success"] is False
    [failure] = summary["failures"]
    assert failure["name"] == "assert_no_plots"
    assert failure["status"] == "fail"
    assert failure["failures"] == 24


def test_dbt_that_cannot_start_reports_why(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # without a project dbt logs to ./logs
    summary = run_dbt(["build"], tmp_path, tmp_path)
    assert summary["success"] is False
    assert summary["nodes"] == []
    assert "dbt_project.yml" in summary["error"]


def test_dbt_build_raises_naming_the_failing_nodes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DbtRunError, match=r"dbt build failed in .*dbt_project.yml") as info:
        dbt_build(tmp_path, tmp_path)
    assert info.value.summary["success"] is False
