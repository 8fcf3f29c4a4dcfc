"""`synthpipe dbt import` and `synthpipe dbt sources`, run through click's CliRunner."""

from __future__ import annotations

import json

import click
import pytest
import yaml
from click.testing import CliRunner

import synthpipe
from synthpipe.cli import Context
from synthpipe.dbt.cli import dbt


@click.group()
@click.option("--home", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def main(ctx, home, as_json):
    """Stands in for the main CLI the lead attaches the group to."""
    ctx.obj = Context(home, as_json, quiet=True, debug=False)


main.add_command(dbt)


@pytest.fixture(scope="module")
def manifest(built):
    project, _ = built
    return str(project.root / "target" / "manifest.json")


def test_import_prints_pipeline_blocks_as_yaml(manifest):
    result = CliRunner().invoke(dbt, ["import", "--manifest", manifest])
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    names = [t["name"] for t in document["generator"]["tables"]]
    assert names == ["plots", "surveys", "species"]
    assert "plots" in document["validation"]["expectations"]


def test_import_writes_a_file_and_reports_notes_on_stderr(manifest, tmp_path):
    out = tmp_path / "fragment.yaml"
    result = CliRunner().invoke(dbt, ["import", "--manifest", manifest, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["generator"]["tables"][0]["primary_key"] == "plot_id"
    assert "note: tests of fct_captures" in result.stderr


def test_import_prints_json_under_the_main_cli_json_flag(manifest):
    result = CliRunner().invoke(main, ["--json", "dbt", "import", "--manifest", manifest])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"generator", "validation", "notes"}


def test_sources_writes_sources_yml_for_a_dataset_in_the_main_cli_home(built, tmp_path):
    project, _ = built
    dataset = synthpipe.list_datasets(project.home)[0]
    out = tmp_path / "models" / "sources.yml"
    args = ["--home", str(project.home), "dbt", "sources", dataset.id, "-o", str(out)]
    result = CliRunner().invoke(main, [*args, "--schema", "main", "--name", "synth"])
    assert result.exit_code == 0, result.output
    source = yaml.safe_load(out.read_text())["sources"][0]
    assert (source["name"], source["schema"]) == ("synth", "main")
    assert [t["name"] for t in source["tables"]] == ["plots", "species", "surveys"]
