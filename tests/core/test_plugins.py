"""Plugins: built-ins and third-party distributions register through the same hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthpipe import plugins
from synthpipe.errors import PluginError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder where the two fixture distributions are really installed (pip --target)."""
    target = tmp_path_factory.mktemp("site")
    for name in ("synthpipe-hello", "synthpipe-broken"):
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
                str(FIXTURES / name),
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


def test_unknown_connector_error_names_the_install_command():
    with pytest.raises(PluginError, match=r"pip install synthpipe-nosuch"):
        plugins.connector_class("nosuch")
