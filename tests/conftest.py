"""Fixtures shared by every test: an empty artifact store and the demo pipeline; how tests are
spread over pytest-xdist workers.

``make test`` runs ``pytest -n <workers> --dist loadgroup``. Every worker is its own process with
its own scratch folder (``SCRATCH``), AIRFLOW_HOME, SYNTHPIPE_HOME and pytest tmp folders; names
in shared services (PostgreSQL schemas, MariaDB databases, buckets) carry ``WORKER`` and a random
suffix (see ``scratch_name`` in tests/connectors/conftest.py), so two workers never collide.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The demo's tables as plots -> surveys sequences, sized by plots (the shipped demo,
# dags/pipelines/ratdat_demo.yaml, has surveys as its root; tests/test_demo.py covers it).
DEMO_PIPELINE = ROOT / "tests" / "fixtures" / "ratdat_sequences.yaml"

# The xdist worker running this process ("gw0", "gw1", ...), "main" without xdist.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# This process's scratch folder, removed when it exits.
SCRATCH = Path(tempfile.mkdtemp(prefix=f"synthpipe-tests-{WORKER}-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Airflow may be imported by any test module and reads its configuration once, on first import:
# its home (and SQLite metadata DB) is this process's, never ~/airflow or the caller's.
os.environ["AIRFLOW_HOME"] = str(SCRATCH / "airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# A test that forgets ``home`` writes here, not into ./.synthpipe of the repository or into a
# store named by the caller's environment.
os.environ["SYNTHPIPE_HOME"] = str(SCRATCH / "synthpipe")

# -- spreading tests over xdist workers ---------------------------------------------------------
#
# `make test` runs `pytest -n <workers> --dist loadgroup`. pytest-xdist 3.8's own loadgroup reads
# a group from a suffix it writes into each test id, which pytest 9.2's structured ids silently
# drop (pytest-dev/pytest-xdist#1386): tests would be spread one by one and every worker would
# build every module and session fixture. So the grouping is done here instead:
# - each worker, after collecting, writes which module belongs to which group into GROUPS_ENV's
#   folder (the controller creates it before starting the workers);
# - the controller's scheduler (GroupScheduling) sends each group whole to one worker.
# A group is a test module, merged with every other module sharing one of SHARED_FIXTURES or an
# explicit xdist_group mark: each expensive fixture is built once per run, not once per worker.
# Groups holding a test marked `slow` are sent first, then the largest, so no long group starts
# last.

# Session fixtures that take seconds to build.
SHARED_FIXTURES = ("built", "store_home", "trained_home", "airflow_db")
GROUPS_ENV = "SYNTHPIPE_TEST_GROUPS"


def pytest_configure(config):
    if not hasattr(config, "workerinput") and config.getoption("dist", "no") == "loadgroup":
        groups = SCRATCH / "xdist-groups"
        groups.mkdir()
        os.environ[GROUPS_ENV] = str(groups)  # inherited by the workers started after this


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    folder = os.environ.get(GROUPS_ENV)
    if not hasattr(config, "workerinput") or not folder:
        return
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    slow = set()
    for item in items:
        module = find(_module(item.nodeid))
        shared = [f"fixture:{name}" for name in SHARED_FIXTURES if name in item.fixturenames]
        for mark in item.iter_markers("xdist_group"):
            shared.append(f"mark:{mark.args[0] if mark.args else mark.kwargs.get('name')}")
        for key in shared:
            other = find(key)
            if other != module:
                # the group is named after a module, never after a fixture or a mark
                keep, drop = (module, other) if ":" in other else (other, module)
                parent[drop] = keep
                module = keep
        if item.get_closest_marker("slow"):
            slow.add(_module(item.nodeid))
    modules = {_module(item.nodeid) for item in items}
    groups = {m: find(m) for m in sorted(modules)}
    data = {"groups": groups, "slow": sorted({groups[m] for m in slow})}
    path = Path(folder) / f"{config.workerinput['workerid']}.json"
    path.with_suffix(".tmp").write_text(json.dumps(data))
    path.with_suffix(".tmp").replace(path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if not os.environ.get(GROUPS_ENV):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        """loadscope with this file's groups as scopes, slow groups first."""

        groups: dict[str, str] | None = None
        slow: frozenset[str] = frozenset()

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # every worker has collected (and written) by now
                self.groups, slow = {}, set()
                for path in sorted(Path(os.environ[GROUPS_ENV]).glob("*.json")):
                    data = json.loads(path.read_text())
                    self.groups.update(data["groups"])
                    slow.update(data["slow"])
                self.slow = frozenset(slow)
            module = _module(nodeid)
            return self.groups.get(module, module)

        def _assign_work_unit(self, node) -> None:
            first = next((s for s in self.workqueue if s in self.slow), None)
            if first is not None:
                self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return GroupScheduling(config, log)


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
