"""Fixtures shared by every test: an empty artifact store and the demo pipeline."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The demo's tables as plots -> surveys sequences, sized by plots (the shipped demo,
# dags/pipelines/ratdat_demo.yaml, has surveys as its root; tests/test_demo.py covers it).
DEMO_PIPELINE = ROOT / "tests" / "fixtures" / "ratdat_sequences.yaml"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Airflow may be imported by any test module: keep its home (and SQLite DB) out of ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="synthpipe-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


def service_missing(reason: str):
    """Skip a test whose service is absent; in CI (SYNTHPIPE_REQUIRE_SERVICES=1) fail it."""
    if os.environ.get("SYNTHPIPE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty SYNTHPIPE_HOME for the test."""
    path = tmp_path / "home"
    monkeypatch.setenv("SYNTHPIPE_HOME", str(path))
    return path


@pytest.fixture(scope="session")
def demo_pipeline() -> Path:
    """The demo pipeline file shipped in dags/pipelines."""
    return DEMO_PIPELINE
