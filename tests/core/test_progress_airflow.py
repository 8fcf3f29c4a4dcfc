"""Airflow task logs get the same plain progress lines as the CLI off a terminal: the report,
validate (and deliver, through the same Progress) operators log each step's start,
percentages and end."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("airflow")

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
delivery:
  - destination: {{connector: duckdb, options: {{path: "{db}"}}}}
    location: synth
    mode: overwrite
"""


class TaskLog:
    """Stands in for an operator's ``self.log``: keeps the formatted info lines."""

    def __init__(self):
        self.lines: list[str] = []

    def info(self, message: str, *args, **_) -> None:
        self.lines.append(message % args if args else message)

    def __getattr__(self, _level: str):  # warning, debug, ...: not what is tested
        return lambda *args, **kwargs: None


@pytest.fixture
def dataset(tmp_path):
    from synthpipe import api

    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(PIPELINE.format(db=tmp_path / "out.duckdb"))
    home = tmp_path / "home"
    api.train(pipeline, home=home)
    return home, pipeline, api.generate("progress_test", sizes={"surveys": 500}, home=home)


@pytest.fixture
def task_log(monkeypatch):
    from synthpipe.airflow.operators.base import SynthpipeOperator

    log = TaskLog()
    monkeypatch.setattr(SynthpipeOperator, "log", property(lambda self: log))
    return log


def test_report_and_validate_operators_log_progress(dataset, task_log):
    from synthpipe.airflow.operators import SynthpipeReportOperator, SynthpipeValidateOperator

    home, _, record = dataset
    SynthpipeReportOperator(task_id="report", dataset=record.id, home=str(home)).execute({})
    assert "QA evaluate: started" in task_log.lines
    SynthpipeValidateOperator(task_id="validate", dataset=record.id, home=str(home)).execute({})
    assert any(re.fullmatch(r"validate surveys: started \(\d+ checks\)", x) for x in task_log.lines)
    assert any(x.startswith("validate surveys: done, ") for x in task_log.lines)
