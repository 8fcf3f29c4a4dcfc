"""Off a terminal, every long verb writes plain progress lines to stderr (for files and
Airflow task logs): report, validate and deliver as well as train and generate."""

from __future__ import annotations

import re

import duckdb
import pytest
from click.testing import CliRunner

from synthpipe.cli import cli

PIPELINE = """
name: progress_test
source: {{connector: files, options: {{path: "@demo/ratdat"}}}}
generator:
  generator: independent
  tables:
    - name: surveys
      primary_key: record_id
      foreign_keys:
        - {{column: plot_id, referenced_table: plots}}
        - {{column: species_id, referenced_table: species}}
    - {{name: plots, primary_key: plot_id, original_data: true}}
    - {{name: species, primary_key: species_id, original_data: true}}
generation: {{sizes: {{surveys: 2000}}, seed: 1}}
delivery:
  - destination: {{connector: duckdb, options: {{path: "{db}"}}}}
    location: synth
    mode: overwrite
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A store with one small dataset of the demo tables, and its pipeline file."""
    from synthpipe import api

    folder = tmp_path_factory.mktemp("progress-cli")
    pipeline = folder / "pipeline.yaml"
    pipeline.write_text(PIPELINE.format(db=folder / "out.duckdb"))
    home = folder / "home"
    api.train(pipeline, home=home)
    dataset = api.generate("progress_test", sizes={"surveys": 2000}, home=home)
    return home, pipeline, dataset


def invoke(home, *args: str):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    return result


def test_deliver_logs_rows_per_table(trained):
    home, pipeline, dataset = trained
    out = invoke(home, "deliver", dataset.id, str(pipeline))
    assert out.exit_code == 0, out.output
    lines = out.stderr.splitlines()
    assert "deliver surveys to duckdb: started (2,000 rows)" in lines
    assert any(re.fullmatch(r"deliver surveys to duckdb: done, 2,000 rows in \d+\.\d s", x)
               for x in lines)  # fmt: skip
    assert "deliver plots to duckdb: started (24 rows)" in lines
    with duckdb.connect(str(pipeline.parent / "out.duckdb"), read_only=True) as con:
        assert con.execute("SELECT COUNT(*) FROM synth.surveys").fetchone() == (2000,)


def test_validate_logs_checks_per_table(trained):
    home, _, dataset = trained
    out = invoke(home, "validate", dataset.id)
    assert out.exit_code == 0, out.output
    started = [x for x in out.stderr.splitlines() if x.startswith("validate surveys: started")]
    assert re.fullmatch(r"validate surveys: started \(\d+ checks\)", started[0])
    assert re.search(r"^validate surveys: done, \d+ checks in \d+\.\d s$", out.stderr, re.M)
    assert "passed validation" in out.stdout  # the result stays on stdout


def test_report_logs_its_steps(trained):
    home, _, dataset = trained
    out = invoke(home, "report", dataset.id)
    assert out.exit_code == 0, out.output
    lines = out.stderr.splitlines()
    assert lines[0] == "QA read tables: started (1 tables)"
    assert "QA evaluate: started" in lines
    assert any(re.fullmatch(r"QA write report: done in \d+\.\d s", x) for x in lines)
    assert out.stdout.strip().endswith("qa_report.html")


def test_quiet_silences_progress(trained):
    home, pipeline, dataset = trained
    out = invoke(home, "-q", "deliver", dataset.id, str(pipeline))
    assert out.exit_code == 0 and out.stderr == ""
