"""A tmp copy of dbt_project/ built once per session with synthetic sources from the plugin.

dbt runs in-process (dbtRunner) with telemetry off. Every path dbt or synthpipe writes (the
artifact store, the DuckDB files, target/ and logs/) lives under a tmp folder, never in the repo.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


@dataclass
class DbtProject:
    """A copy of dbt_project/ with its own artifact store and output folder."""

    root: Path
    home: Path
    out: Path

    @property
    def warehouse(self) -> Path:
        return self.out / "dev.duckdb"

    @property
    def exports(self) -> Path:
        return self.out / "exports.duckdb"

    @property
    def delivered(self) -> Path:
        return self.out / "delivered.duckdb"

    def env(self) -> dict[str, str]:
        """The environment variables profiles.yml reads."""
        return {
            "SYNTHPIPE_HOME": str(self.home),
            "SYNTHPIPE_DBT_DUCKDB": str(self.warehouse),
            "SYNTHPIPE_DBT_EXTERNAL": str(self.out / "external"),
            "SYNTHPIPE_DBT_EXPORTS": str(self.exports),
            "SYNTHPIPE_DELIVERED_DUCKDB": str(self.delivered),
        }

    def run(self, args: list[str], **kwargs) -> dict:
        """run_dbt on this project with its environment."""
        from synthpipe.dbt import run_dbt

        with environment(self.env()):
            return run_dbt([*args, "--quiet"], self.root, self.root, **kwargs)

    def add_failing_test(self) -> str:
        """Add a singular data test that fails once per plot; returns its name."""
        (self.root / "tests").mkdir(exist_ok=True)
        sql = "select * from {{ ref('stg_plots') }}  -- fails for every plot\n"
        (self.root / "tests" / "assert_no_plots.sql").write_text(sql)
        return "assert_no_plots"

    def edit(self, path: str, old: str, new: str) -> None:
        """Replace text in one of the project's files (the text must be there)."""
        file = self.root / path
        text = file.read_text()
        assert old in text, f"{old!r} not in {path}"
        file.write_text(text.replace(old, new))


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def copy_project(folder: Path) -> DbtProject:
    """A fresh copy of dbt_project/ under ``folder`` (without anything a run left in the repo)."""
    root = folder / "project"
    shutil.copytree(
        PROJECT, root, ignore=shutil.ignore_patterns("target", "logs", ".synthpipe", "*.duckdb*")
    )
    (folder / "out").mkdir()
    return DbtProject(root=root, home=folder / "home", out=folder / "out")


@pytest.fixture
def dbt_project(tmp_path) -> DbtProject:
    """A fresh, unbuilt copy of dbt_project/ for one test."""
    return copy_project(tmp_path)


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> tuple[DbtProject, dict]:
    """dbt_project/ built once on synthetic sources: the project and run_dbt's summary."""
    project = copy_project(tmp_path_factory.mktemp("dbt-built"))
    return project, project.run(["build"])
