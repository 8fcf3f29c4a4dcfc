"""--json, --quiet and --debug work before the sub-command and after it, at any level."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from daily_support import write_pipeline

from synthpipe.cli import cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    "args",
    [["--json", "plugins"], ["plugins", "--json"]],
    ids=["before", "after"],
)
def test_plugins_json_before_or_after(args):
    out = invoke(*args)
    assert out.exit_code == 0, out.output
    assert any(p["name"] == "synthpipe.connectors.files" for p in json.loads(out.output))


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "datasets", "list"],
        ["datasets", "list", "--json"],
        ["datasets", "--json", "list"],
    ],
    ids=["before", "after", "between"],
)
def test_datasets_list_json_at_any_level(home, args):
    out = invoke(*args)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == []


def test_quiet_and_json_after_the_verb(home, tmp_path):
    pipeline = write_pipeline(tmp_path)
    result = CliRunner().invoke(cli, ["train", str(pipeline), "--json", "-q", "--name", "g"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "g"
    assert result.stderr == ""  # quiet: no progress lines


def test_debug_after_the_verb_shows_the_traceback(home):
    result = subprocess.run(
        [sys.executable, "-m", "synthpipe.cli", "generators", "show", "x", "--debug"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_sub_command_help_lists_the_global_flags():
    out = invoke("datasets", "list", "--help").output
    assert "--json" in out and "--quiet" in out and "--debug" in out
    assert "_global" not in out and "[default:" not in out


def test_validate_keeps_its_own_json_flag():
    out = invoke("validate", "--help").output
    assert out.count("--json") == 1 and "--quiet" in out
