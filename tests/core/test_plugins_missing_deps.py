"""A missing optional dependency is named with the command that installs it, never reported as a
bug: the CLI's error handler turns a ModuleNotFoundError of a known module into that message.

The module is made missing in a child process with ``sys.modules[name] = None``, which makes
every import of it raise ModuleNotFoundError as if it were not installed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from synthpipe.errors import (
    OPTIONAL_MODULES,
    MissingDependencyError,
    missing_dependency,
    require,
)


def run_without(module: str, *args: str) -> subprocess.CompletedProcess:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from synthpipe.cli import main\n"
        f"main({list(args)!r})"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_cli_names_the_plugin_install_for_a_missing_driver():
    done = run_without("psycopg", "connectors", "locations", "postgres", "-o", "host=127.0.0.1")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: Python module 'psycopg' is not installed; the postgres connector needs it: "
        "install it with `pip install ./plugins/synthpipe-postgres` in a synthpipe source checkout"
    )
    assert "unexpected" not in done.stderr and "report it" not in done.stderr


@pytest.mark.parametrize(
    ("module", "extra"),
    [("great_expectations", "gx"), ("dbt.cli.main", "dbt"), ("airflow.sdk", "airflow")],
)
def test_each_integration_module_maps_to_its_extra(module, extra):
    error = missing_dependency(ModuleNotFoundError(f"No module named '{module}'", name=module))
    assert isinstance(error, MissingDependencyError)
    assert f'pip install "synthpipe[{extra}]"' in str(error)
    assert error.name == module


def test_synthpipes_own_modules_missing_stay_a_bug():
    bug = ModuleNotFoundError("No module named 'synthpipe.nope'", name="synthpipe.nope")
    assert missing_dependency(bug) is None


def test_a_missing_core_dependency_says_to_reinstall(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn_not_there", None)
    with pytest.raises(MissingDependencyError, match="pip install --force-reinstall synthpipe"):
        require("sklearn_not_there")


def test_require_is_still_a_module_not_found_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "great_expectations", None)
    with pytest.raises(ModuleNotFoundError) as raised:
        require("great_expectations", "validation")
    assert str(raised.value) == (
        "Python module 'great_expectations' is not installed; validation needs it: install it "
        'with `pip install "synthpipe[gx]"`'
    )


def test_every_extra_named_exists_in_pyproject():
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    extras = set(tomllib.loads((root / "pyproject.toml").read_text())["project"][
        "optional-dependencies"])  # fmt: skip
    for _, fix in OPTIONAL_MODULES.values():
        if m := re.search(r"synthpipe\[(\w+)\]", fix):
            assert m[1] in extras, fix
        else:
            assert (root / fix.removeprefix("pip install ./")).is_dir(), fix
