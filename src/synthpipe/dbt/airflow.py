"""``DbtBuildOperator``: ``dbt build`` as an Airflow task, after a synthetic refresh.

Placed after a delivery, it proves the freshly delivered synthetic tables work with the team's
models: every model builds and every dbt test passes, or the task fails naming the nodes that
broke. Only Airflow's SDK is imported at module level; dbt is imported inside ``execute``, so
DAG files parse fast.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class DbtBuildOperator(BaseOperator):
    """Run ``dbt build`` in-process and return run_dbt's JSON-safe summary as the XCom.

    :param project_dir: the dbt project folder.
    :param profiles_dir: the folder holding profiles.yml; default dbt's own lookup.
    :param target: the profile target, e.g. ``delivered`` to read the delivered tables.
    :param select: dbt node selection (one string or a list).
    :param vars: dbt ``--vars``.
    :param dataset: the dataset the build checks: an id or an upstream task's result with a
        ``dataset`` key; passed to dbt as the var ``synthpipe_dataset`` and logged.
    :param env: environment variables set while dbt runs (profiles read them with env_var).
    :param extra_args: more dbt build arguments, e.g. ``["--exclude", "tag:slow"]``.

    A failing dbt test fails the task without retries (the same data fails the same test);
    other dbt errors (a locked database, a bad profile) fail it with retries.
    """

    template_fields = (
        "project_dir",
        "profiles_dir",
        "target",
        "select",
        "vars",
        "dataset",
        "env",
        "extra_args",
    )
    ui_color = "#fde6d8"

    def __init__(
        self,
        *,
        project_dir: str,
        profiles_dir: str | None = None,
        target: str | None = None,
        select: str | list[str] | None = None,
        vars: dict | None = None,
        dataset: Any = None,
        env: dict[str, str] | None = None,
        extra_args: list[str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.profiles_dir = profiles_dir
        self.target = target
        self.select = select
        self.vars = vars
        self.dataset = dataset
        self.env = env
        self.extra_args = extra_args

    def execute(self, context: Context) -> dict:
        from synthpipe.dbt.runner import run_dbt

        args = ["build"]
        if self.select:
            args += ["--select", *([self.select] if isinstance(self.select, str) else self.select)]
        args += list(self.extra_args or [])
        dbt_vars = dict(self.vars or {})
        dataset = _dataset_id(self.dataset)
        if dataset:
            dbt_vars.setdefault("synthpipe_dataset", dataset)
            self.log.info("dbt build on synthetic dataset %s", dataset)
        with _environment(self.env or {}):
            summary = run_dbt(
                args, self.project_dir, self.profiles_dir, target=self.target, vars=dbt_vars
            )
        self._log_summary(summary)
        if not summary["success"]:
            _fail(summary)
        return summary

    def _log_summary(self, summary: dict) -> None:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(summary["counts"].items()))
        self.log.info("dbt build finished in %.1f s: %s", summary["elapsed"], counts or "no nodes")
        for node in summary["failures"]:
            self.log.error("%s %s: %s", node["unique_id"], node["status"], node["message"])


def _dataset_id(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("dataset")
    return str(value) if value else None


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block, restoring the previous values after it."""
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _fail(summary: dict) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from synthpipe.dbt.runner import DbtRunError

    error = DbtRunError(summary)
    tests_failed = any(n["status"] == "fail" for n in summary["failures"])
    if tests_failed and not summary.get("error"):
        raise AirflowFailException(str(error)) from error
    raise error
