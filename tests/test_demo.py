"""The shipped demo: its modelling (fast) and `make demo`'s runner end to end (slow).

The demo pipeline (dags/pipelines/ratdat_demo.yaml) models the Portal captures as they are:
one learned table of independent capture events, with plots and species as lookups, so the
QA report has thousands of holdout rows to judge against.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthpipe import engine
from synthpipe.pipeline import load_pipeline
from synthpipe.schema import check_sizes

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "dags" / "pipelines" / "ratdat_demo.yaml"


@pytest.fixture(scope="module")
def demo():
    """The shipped pipeline and its checked generator config over the embedded data."""
    pipeline = load_pipeline(SHIPPED)
    connector = engine.connect(pipeline.source)
    tables = engine.resolve_tables(connector, pipeline.source, pipeline.generator.tables)
    return pipeline, engine.check(pipeline.generator_config(tables), source=str(SHIPPED))


def test_surveys_is_the_only_learned_table_and_has_no_sequence(demo):
    _, config = demo
    assert [t.name for t in config.learned_tables()] == ["surveys"]
    assert [t.name for t in config.root_tables()] == ["surveys"]
    assert all(t.context_key is None for t in config.tables)


def test_plots_and_species_are_lookups_the_captures_reference(demo):
    _, config = demo
    assert {t.name for t in config.tables if t.original_data} == {"plots", "species"}
    keys = config.table("surveys").foreign_keys
    references = {(*fk.columns, fk.referenced_table) for fk in keys}
    assert references == {("plot_id", "plots"), ("species_id", "species")}


def test_the_qa_holdout_holds_thousands_of_rows(demo):
    pipeline, _ = demo
    import pyarrow.parquet as pq

    from synthpipe.pipeline import demo_path

    surveys = pq.read_metadata(demo_path() / "surveys.parquet").num_rows
    assert int(surveys * pipeline.generator.holdout) >= 3000


def test_the_demo_sizes_only_its_learned_table(demo):
    pipeline, config = demo
    assert check_sizes(pipeline.generation.sizes, config) == []
    assert set(pipeline.generation.sizes) == {"surveys"}


def test_the_demo_delivers_under_demo_output_only(demo):
    pipeline, _ = demo
    paths = [Path(d.destination.options["path"]) for d in pipeline.delivery]
    assert paths == [ROOT / "demo-output" / "ratdat.duckdb", ROOT / "demo-output" / "parquet"]


def test_the_runner_names_what_a_checkout_lacks(tmp_path, capsys):
    from synthpipe.demo_run import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--root", str(tmp_path)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "lacks dags/synthetic_refresh.py, dbt_project" in error
    assert "run from a synthpipe checkout or pass --root" in error


def test_the_summary_counts_dbt_results_and_fails_on_a_failed_test(tmp_path):
    from synthpipe.demo_run import _dbt_line

    results = [
        {"unique_id": "model.ratdat.stg_plots", "status": "success"},
        {"unique_id": "test.ratdat.unique_stg_plots_plot_id", "status": "pass"},
        {"unique_id": "test.ratdat.accepted_values_stg_surveys_sex", "status": "fail"},
    ]
    (tmp_path / "run_results.json").write_text(json.dumps({"results": results}))
    ok, line = _dbt_line(tmp_path / "run_results.json")
    assert not ok
    assert line.startswith("dbt build   FAILED: 1 models success, 1 tests fail, 1 tests pass")


def test_the_summary_says_when_dbt_did_not_start(tmp_path):
    from synthpipe.demo_run import _dbt_line

    assert _dbt_line(tmp_path / "missing.json") == (
        False, "dbt build   FAILED before running (see the dbt log)"
    )  # fmt: skip


def _metrics(folder: Path, level: str) -> Path:
    from synthpipe.qa import SCHEMA_VERSION

    verdict = {"level": level, "summary": "Summary.", "findings": ["DCR share too low."]}
    headline = {"accuracy": 0.9, "accuracy_interval": [0.88, 0.92], "ceiling": 0.95,
                "dcr_share": 0.5, "discriminator_auc": 0.6, "verdict": verdict}  # fmt: skip
    metrics = {"schema_version": SCHEMA_VERSION, "headline": headline}
    (folder / "qa_metrics.json").write_text(json.dumps(metrics))
    return folder


def test_the_summary_gives_the_verdict_and_figures_with_intervals(tmp_path):
    from synthpipe.demo_run import _qa_lines

    lines = _qa_lines(_metrics(tmp_path, "good"))
    assert lines[0].startswith("QA          GOOD: accuracy 90.0% (95% CI 88.0")
    assert "DCR share 50.0%" in lines[0] and "discriminator AUC 0.60" in lines[0]
    assert [line.strip() for line in lines[1:]] == ["Summary."]


def test_the_summary_lists_the_findings_unless_the_verdict_is_good(tmp_path):
    from synthpipe.demo_run import _qa_lines

    lines = _qa_lines(_metrics(tmp_path, "poor"))
    assert lines[0].startswith("QA          POOR:")
    assert [line.strip() for line in lines[1:]] == ["Summary.", "- DCR share too low."]


@pytest.mark.slow
def test_make_demo_runs_the_dag_and_dbt_and_ends_good(tmp_path):
    """The runner `make demo` calls, on a copy of dags/ and dbt_project/ (it writes
    <root>/demo-output/ only): every DAG task succeeds, the QA verdict is GOOD, validation
    passes and dbt build is green."""
    for folder in ("dags", "dbt_project"):
        ignore = shutil.ignore_patterns("target", "logs", "__pycache__", ".synthpipe")
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=ignore)
    done = subprocess.run(
        [sys.executable, "-m", "synthpipe.demo_run", "--root", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "tasks succeeded" in done.stdout and "not successful" not in done.stdout
    assert "QA          GOOD" in done.stdout
    assert "Validation  passed" in done.stdout
    assert "dbt build   passed" in done.stdout
    out = tmp_path / "demo-output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dags", "dbt_project", "demo-output"]
    assert (out / "ratdat.duckdb").is_file()
    # the tables and the delivery's manifest (written last; readers that follow it see whole
    # deliveries), no staging or temporary files
    assert sorted(p.name for p in (out / "parquet").iterdir()) == [
        "_manifest.json", "plots.parquet", "species.parquet", "surveys.parquet"
    ]  # fmt: skip
    (report,) = out.glob("store/datasets/*/qa_report.html")
    headline = json.loads((report.parent / "qa_metrics.json").read_text())["headline"]
    assert headline["verdict"]["level"] == "good"


def test_the_demo_dataset_is_reachable_as_at_demo_on_the_command_line():
    from click.testing import CliRunner

    from synthpipe.cli import cli

    result = CliRunner().invoke(cli, ["--json", "connectors", "schema", "files", "-o",
                                      "path=@demo/ratdat"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(t["name"] for t in json.loads(result.output)) == ["plots", "species", "surveys"]


def test_the_files_connector_reads_at_demo_paths():
    from synthpipe.connectors.files import FilesConnector
    from synthpipe.pipeline import demo_path

    assert FilesConnector(path="@demo/ratdat").config.path == demo_path("ratdat")


def _readme_python() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("```python\n", text.index("## In Python")) + len("```python\n")
    return text[start : text.index("\n```", start)]


@pytest.mark.slow
def test_the_readme_python_snippet_runs_and_writes_under_demo_output_only(tmp_path, monkeypatch):
    (tmp_path / "dags").symlink_to(ROOT / "dags")
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(_readme_python(), "README.md", "exec"), names)
    assert names["dataset"].tables["surveys"]["rows"] == 1000
    assert names["dataset"].tables["plots"]["rows"] == 24
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dags", "demo-output"]
    assert (tmp_path / "demo-output" / "dev.duckdb").is_file()
