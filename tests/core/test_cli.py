"""The CLI: verbs, --json for scripts, one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from synthpipe.cli import cli, main


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_lists_every_verb():
    out = invoke("--help").output
    for verb in (
        "plugins",
        "connectors",
        "train",
        "generate",
        "run",
        "deliver",
        "generators",
        "datasets",
        "schema",
    ):
        assert verb in out


def test_schema_prints_the_pipeline_json_schema():
    schema = json.loads(invoke("schema").output)
    assert schema["title"] == "Pipeline"
    assert {"source", "generator", "generation", "delivery", "schedule"} <= set(
        schema["properties"]
    )


def test_train_generate_and_list_as_json(home, demo_pipeline):
    trained = json.loads(
        invoke(
            "--json",
            "-q",
            "train",
            str(demo_pipeline),
            "--generator",
            "independent",
            "--name",
            "g1",
        ).output
    )
    assert trained["status"] == "DONE"
    dataset = json.loads(
        invoke("--json", "-q", "generate", "g1", "--size", "plots=30", "--seed", "2").output
    )
    assert dataset["tables"]["plots"]["rows"] == 30
    listed = json.loads(invoke("--json", "datasets", "list").output)
    assert [d["id"] for d in listed] == [dataset["id"]]
    shown = json.loads(invoke("--json", "generators", "show", "g1").output)
    assert shown["generator"] == "independent"


def test_connectors_schema_shows_discovered_tables(demo_pipeline):
    from synthpipe.pipeline import demo_path

    out = json.loads(
        invoke("--json", "connectors", "schema", "files", "-o", f"path={demo_path()}").output
    )
    surveys = next(t for t in out if t["name"] == "surveys")
    assert surveys["rows"] == 35549
    assert {"name": "survey_date", "type": "date"} in [
        {k: c[k] for k in ("name", "type")} for c in surveys["columns"]
    ]


def test_error_is_one_line_and_exits_non_zero(home, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "no-such-generator"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no generator with id or name 'no-such-generator'")
    assert len(err.splitlines()) == 1


def test_debug_shows_the_traceback(home):
    result = subprocess.run(
        [sys.executable, "-m", "synthpipe.cli", "--debug", "generate", "x"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_bad_size_option_names_the_option(home):
    result = CliRunner().invoke(cli, ["generate", "g", "--size", "plots"])
    assert result.exit_code == 2 and "TABLE=ROWS" in result.output
