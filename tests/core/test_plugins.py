"""Plugins: built-ins and third-party distributions register through the same hooks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthpipe import plugins
from synthpipe.errors import PluginError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder where the two fixture distributions are really installed (pip --target).

    pip builds in the source folder (build/, *.egg-info), so it builds a tmp copy: nothing is
    written into the repository and parallel test workers never share a build folder."""
    target = tmp_path_factory.mktemp("site")
    sources = tmp_path_factory.mktemp("fixture-sources")
    for name in ("synthpipe-hello", "synthpipe-broken"):
        source = shutil.copytree(
            FIXTURES / name, sources / name, ignore=shutil.ignore_patterns("build", "*.egg-info")
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                "--target",
                str(target),
                str(source),
            ],
            check=True,
            capture_output=True,
        )
    return target


def synthpipe(site: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(site), **(env or {})}
    environ.pop("SYNTHPIPE_LOAD_PLUGINS", None) if env is None else None
    return subprocess.run(
        [sys.executable, "-m", "synthpipe.cli", *args], env=environ, capture_output=True, text=True
    )


def test_builtins_are_registered_like_plugins():
    registry = plugins.get_registry()
    assert {"files", "duckdb"} <= set(registry.connectors)
    assert "independent" in registry.generators
    builtin = {p.name: p for p in registry.plugins if p.origin == "builtin"}
    assert builtin["synthpipe.connectors.files"].connectors == ["files"]


def test_installed_distribution_registers_its_connector_and_generator(site):
    result = synthpipe(site, "--json", "plugins")
    assert result.returncode == 0, result.stderr
    found = {p["name"]: p for p in json.loads(result.stdout)}
    assert found["hello"]["origin"] == "synthpipe-hello 0.0.1"
    assert found["hello"]["connectors"] == ["hello"]
    assert found["hello"]["generators"] == ["hello"]


def test_broken_plugin_is_listed_with_its_fix_and_the_cli_still_works(site):
    listing = synthpipe(site, "plugins")
    assert listing.returncode == 0
    line = next(row for row in listing.stdout.splitlines() if row.startswith("broken "))
    assert "BROKEN" in line and "synthpipe_missing_driver" in line
    assert "pip install --force-reinstall synthpipe-broken" in listing.stdout
    other = synthpipe(site, "--json", "connectors", "locations", "hello")
    assert other.returncode == 0 and json.loads(other.stdout) == ["hello-world"]


def test_allow_list_limits_third_party_plugins(site):
    result = synthpipe(site, "--json", "plugins", env={"SYNTHPIPE_LOAD_PLUGINS": "hello"})
    names = {p["name"] for p in json.loads(result.stdout)}
    assert "hello" in names and "broken" not in names
    assert "synthpipe.connectors.files" in names  # built-ins are always loaded


def test_a_typo_suggests_the_installed_kind_and_never_a_guessed_package():
    with pytest.raises(PluginError) as raised:
        plugins.connector_class("postgress")
    message = str(raised.value)
    assert "did you mean 'postgres'?" in message
    assert "pip install" not in message and "synthpipe-postgress" not in message


def test_a_typo_of_a_generator_suggests_the_installed_one():
    with pytest.raises(PluginError, match=r"unknown generator 'fidelty'; did you mean 'fidelity'"):
        plugins.generator_class("fidelty")


def test_an_unknown_kind_lists_what_is_installed_and_suggests_no_package():
    with pytest.raises(PluginError) as raised:
        plugins.connector_class("nosuch")
    message = str(raised.value)
    assert "Installed connectors: duckdb, files" in message
    assert "did you mean" not in message and "pip install" not in message


@pytest.fixture
def only_builtins(monkeypatch):
    """The registry as it is with no third-party plugin installed; restored afterwards.

    Uninstalling the shipped distributions is not possible inside the test run, so their entry
    points and installed metadata are hidden instead."""
    monkeypatch.setattr(plugins, "_entry_points", lambda: [])
    monkeypatch.setattr(plugins, "_installed", lambda dist: False)
    plugins.reload()
    yield
    monkeypatch.undo()
    plugins.reload()


def test_a_shipped_plugin_that_is_not_installed_is_named_with_its_real_install(only_builtins):
    with pytest.raises(PluginError) as raised:
        plugins.connector_class("mariadb")
    message = str(raised.value)
    assert "comes with the synthpipe-mysql distribution, which is not installed" in message
    assert "`pip install ./plugins/synthpipe-mysql` in a synthpipe source checkout" in message
    with pytest.raises(PluginError, match=r"did you mean 'postgres' \(from synthpipe-postgres, "):
        plugins.connector_class("postgress")


def test_an_installed_plugin_left_out_by_the_allow_list_says_so(monkeypatch):
    monkeypatch.setenv("SYNTHPIPE_LOAD_PLUGINS", "hello")
    plugins.reload()
    try:
        with pytest.raises(PluginError, match=r"synthpipe-postgres, which is installed but not "):
            plugins.connector_class("postgres")
    finally:
        monkeypatch.undo()
        plugins.reload()


def test_the_shipped_list_matches_the_distributions_under_plugins():
    import tomllib

    root = Path(__file__).resolve().parents[2] / "plugins"
    registry = plugins.get_registry()
    found = {}
    for pyproject in root.glob("*/pyproject.toml"):
        dist = tomllib.loads(pyproject.read_text())["project"]["name"]
        for info in registry.plugins:
            if info.origin.split()[0] == dist:
                found.update(dict.fromkeys(info.connectors, dist))
    assert found == plugins.SHIPPED_CONNECTORS


def test_a_plugin_missing_an_optional_module_gets_that_modules_install_command():
    missing = ModuleNotFoundError("No module named 'psycopg'", name="psycopg")
    assert (
        plugins._fix_for("synthpipe-postgres", missing)
        == "pip install ./plugins/synthpipe-postgres"
    )
    other = ModuleNotFoundError("No module named 'x_driver'", name="x_driver")
    assert plugins._fix_for("synthpipe-x", other) == "pip install --force-reinstall synthpipe-x"
