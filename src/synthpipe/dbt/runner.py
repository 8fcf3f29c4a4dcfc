"""Run dbt in-process (dbtRunner) and summarise the result as small, JSON-safe data.

The summary is what a scheduler keeps (an XCom, a log line): overall success, the status of
every node with its timing, and the failures with dbt's message, so a red build says which
model or test broke without opening dbt's logs. Nothing reaches the network: anonymous usage
statistics are switched off for the invocation and ``DO_NOT_TRACK`` is set.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from synthpipe.errors import SynthpipeError

# Statuses of nodes that did not do their job (dbt's RunStatus and TestStatus values).
FAILED = {"error", "fail", "runtime error"}
# dbtRunner keeps global state (flags, adapters): one invocation at a time per process.
_LOCK = threading.Lock()


class DbtRunError(SynthpipeError):
    """dbt ran and some node failed, or dbt could not run; ``summary`` holds the details."""

    def __init__(self, summary: dict):
        self.summary = summary
        failed = summary["failures"]
        if summary.get("error"):
            detail = _one_line(summary["error"])
        else:
            detail = "; ".join(
                f"{f['unique_id']} {f['status']}: {_one_line(f['message'])}" for f in failed
            )
        super().__init__(
            f"dbt {summary['command']} failed in {summary['project_dir']}: {detail}; fix the "
            "failing nodes (dbt's log under the project's logs/ has the details) and run again"
        )


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def run_dbt(
    args: list[str],
    project_dir: str | Path,
    profiles_dir: str | Path | None = None,
    *,
    target: str | None = None,
    vars: dict | None = None,
) -> dict[str, Any]:
    """Run a dbt command (e.g. ``["build"]``) in-process and return a JSON-safe summary.

    The summary has ``success``, ``command``, ``elapsed``, ``counts`` per status, ``nodes``
    (unique_id, name, resource_type, status, execution_time, timing, message, failures) and
    ``failures`` (the nodes that errored or failed). dbt itself failing to start (a bad
    profile, a parse error) gives ``success: false`` with ``error`` set.
    """
    from dbt.cli.main import dbtRunner

    os.environ.setdefault("DO_NOT_TRACK", "1")
    argv = [*args, "--project-dir", str(project_dir), "--no-send-anonymous-usage-stats"]
    if profiles_dir is not None:
        argv += ["--profiles-dir", str(profiles_dir)]
    if target:
        argv += ["--target", target]
    if vars:
        argv += ["--vars", json.dumps(vars)]
    started = time.perf_counter()
    with _LOCK:
        try:
            result = dbtRunner().invoke(argv)
        finally:
            _release_duckdb()
    elapsed = time.perf_counter() - started
    command = args[0] if args else ""
    return summarize(result, command=command, project_dir=project_dir, elapsed=elapsed)


def _release_duckdb() -> None:
    """Close the database dbt-duckdb keeps open after a run (``keep_open`` defaults to true).

    Otherwise the process holds the DuckDB file until it exits, and the next step of the same
    process (a delivery, a read-only check) cannot open it.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # another adapter: nothing held
        return
    env = getattr(DuckDBConnectionManager, "_ENV", None)
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def summarize(result, *, command: str, project_dir: str | Path, elapsed: float) -> dict[str, Any]:
    """The JSON-safe summary of a ``dbtRunnerResult``."""
    nodes = [_node(r) for r in _results(result.result)]
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node["status"]] = counts.get(node["status"], 0) + 1
    exc = result.exception
    error = None if exc is None else f"{type(exc).__name__}: {exc}"
    return {
        "success": bool(result.success),
        "command": command,
        "project_dir": str(project_dir),
        "elapsed": round(elapsed, 3),
        "counts": counts,
        "nodes": nodes,
        "failures": [n for n in nodes if n["status"] in FAILED],
        "error": error,
    }


def _results(result) -> list:
    """The node results of a command that runs nodes; other commands have none."""
    return list(getattr(result, "results", None) or [])


def _node(result) -> dict[str, Any]:
    node = result.node
    return {
        "unique_id": node.unique_id,
        "name": node.name,
        "resource_type": str(node.resource_type),
        "status": str(result.status),
        "execution_time": round(float(result.execution_time or 0), 3),
        "timing": {t.name: _seconds(t) for t in result.timing or []},
        "message": None if result.message is None else str(result.message),
        "failures": result.failures,
    }


def _seconds(timing) -> float | None:
    if timing.started_at is None or timing.completed_at is None:
        return None
    return round((timing.completed_at - timing.started_at).total_seconds(), 3)


def dbt_build(
    project_dir: str | Path,
    profiles_dir: str | Path | None = None,
    *,
    target: str | None = None,
    select: list[str] | str | None = None,
    vars: dict | None = None,
) -> dict[str, Any]:
    """``dbt build`` that raises ``DbtRunError`` unless every model, seed and test succeeded."""
    args = ["build"]
    if select:
        args += ["--select", *([select] if isinstance(select, str) else select)]
    summary = run_dbt(args, project_dir, profiles_dir, target=target, vars=vars)
    if not summary["success"]:
        raise DbtRunError(summary)
    return summary
