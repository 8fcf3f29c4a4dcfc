"""`make demo`: the product's main job end to end, on embedded defaults.

Runs the shipped refresh DAG (``dags/synthetic_refresh.py``, DAG ``ratdat_demo``) the way a
data team would, with ``airflow dags test`` on an embedded SQLite metadata database in a
temporary ``AIRFLOW_HOME``: train, generate, QA report, validate, deliver to DuckDB and
parquet. Then ``dbt build`` of ``dbt_project/`` (target ``delivered``) on the delivered
tables, and a summary: QA verdict and headline figures, validation, dbt, where outputs lie.

Run from a synthpipe checkout: ``python -m synthpipe.demo_run [--root .]``. Everything is
written under ``demo-output/`` (the folder the demo pipeline delivers to); logs of each step
are in ``demo-output/logs/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DAG_ID = "ratdat_demo"
OUT = "demo-output"


def _tool(name: str) -> str:
    """An executable of this environment (the venv's airflow, dbt)."""
    return str(Path(sys.executable).parent / name)


def _env(root: Path, out: Path) -> dict[str, str]:
    """Airflow, synthpipe and the dbt profile pointed at dags/ and demo-output/."""
    return {
        **os.environ,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "SYNTHPIPE_PIPELINES": str(root / "dags" / "pipelines"),
        "SYNTHPIPE_HOME": str(out / "store"),
        "SYNTHPIPE_DELIVERED_DUCKDB": str(out / "ratdat.duckdb"),
        "SYNTHPIPE_DBT_DUCKDB": str(out / "dbt" / "ratdat_dbt.duckdb"),
        "SYNTHPIPE_DBT_EXTERNAL": str(out / "dbt" / "external"),
        "SYNTHPIPE_DBT_EXPORTS": str(out / "dbt" / "exports.duckdb"),
        "GX_ANALYTICS_ENABLED": "False",
        "DO_NOT_TRACK": "1",
    }


def _step(title: str, argv: list[str], env: dict, log: Path, cwd: Path) -> bool:
    """Run one command with its output in ``log``; print one line with its duration."""
    print(f"... {title}", flush=True)
    started = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.run(argv, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    ok = code.returncode == 0
    print(f"    {'done' if ok else 'FAILED'} in {seconds:.0f} s (log: {_rel(log)})", flush=True)
    if not ok:
        print("".join(log.read_text(errors="replace").splitlines(True)[-30:]), file=sys.stderr)
    return ok


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _task_states(airflow_db: Path) -> dict[str, str]:
    """State of every task of the DAG run, mapped tasks as ``task[i]``."""
    with sqlite3.connect(airflow_db) as con:
        rows = con.execute(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ?", (DAG_ID,)
        ).fetchall()
    return {(t if i < 0 else f"{t}[{i}]"): str(s) for t, i, s in sorted(rows)}


def _dataset(out: Path):
    from synthpipe.store import Status, Store

    done = [d for d in Store(out / "store").datasets() if d.status is Status.DONE]
    return done[-1] if done else None


def _dataset_dir(out: Path, dataset_id: str) -> Path:
    from synthpipe.store import Store

    return Store(out / "store").dataset_dir(dataset_id)


def _qa_lines(folder: Path) -> list[str]:
    """The QA verdict, its three headline figures with 95% intervals, and its summary (with
    the findings when the verdict is not good)."""
    from synthpipe.qa import load_metrics, summarize

    if not (folder / "qa_metrics.json").is_file():
        return ["QA          no report was written (see the report task in the Airflow log)"]
    metrics = load_metrics(folder)
    verdict = metrics["headline"].get("verdict") or {}
    text = summarize(metrics, findings=True)
    first, *rest = text.splitlines()
    if verdict.get("level") == "good":
        rest = rest[:1]
    return [f"QA          {first.removeprefix('QA ')}", *(f"          {line}" for line in rest)]


def _validation_line(dataset) -> str:
    result = dataset.validation or {}
    stats = result.get("statistics") or {}
    outcome = "passed" if result.get("success") else "FAILED"
    return (
        f"Validation  {outcome}: {stats.get('successful', '?')} of {stats.get('evaluated', '?')}"
        f" checks, {len(result.get('gates') or {})} gate(s)"
    )


def _dbt_line(results: Path) -> tuple[bool, str]:
    if not results.is_file():
        return False, "dbt build   FAILED before running (see the dbt log)"
    counts: dict[str, int] = {}
    for node in json.loads(results.read_text())["results"]:
        kind = node["unique_id"].split(".")[0]
        key = f"{kind}s {node['status']}"
        counts[key] = counts.get(key, 0) + 1
    ok = all(k.split()[1] in ("success", "pass") for k in counts)
    text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    return ok, f"dbt build   {'passed' if ok else 'FAILED'}: {text} (target delivered)"


def _outputs(out: Path, dataset) -> list[str]:
    folder = _dataset_dir(out, dataset.id)
    rows = ", ".join(f"{t} {v['rows']:,}" for t, v in sorted(dataset.tables.items()))
    return [
        "Outputs",
        f"  DuckDB      {_rel(out / 'ratdat.duckdb')} (schema main: {rows} rows)",
        f"  Parquet     {_rel(out / 'parquet')}/"
        + "{plots,species,surveys}.parquet, _manifest.json",
        f"  QA report   {_rel(folder / 'qa_report.html')} (metrics: qa_metrics.json)",
        f"  Validation  {_rel(folder / 'validation.html')}",
        f"  dbt         {_rel(out / 'dbt' / 'ratdat_dbt.duckdb')} (models),"
        f" {_rel(out / 'dbt' / 'exports.duckdb')} (plot_summary export)",
        f"  Store       {_rel(out / 'store')}"
        f" (SYNTHPIPE_HOME={_rel(out / 'store')} synthpipe datasets list)",
        f"  Logs        {_rel(out / 'logs')}/",
    ]


def _airflow(root: Path, out: Path, env: dict) -> dict[str, str] | None:
    """The refresh DAG in a temporary AIRFLOW_HOME; its task states, None if it did not run."""
    airflow_home = Path(tempfile.mkdtemp(prefix="synthpipe-demo-airflow-"))
    env = {**env, "AIRFLOW_HOME": str(airflow_home)}
    logs = out / "logs"
    try:
        migrate = [_tool("airflow"), "db", "migrate"]
        if not _step("airflow db migrate (SQLite metadata DB in a temporary AIRFLOW_HOME)",
                     migrate, env, logs / "airflow-db.log", out):  # fmt: skip
            return None
        test = [_tool("airflow"), "dags", "test", DAG_ID]
        _step(f"airflow dags test {DAG_ID} (train, generate, report, validate, deliver)",
              test, env, logs / "airflow-dags-test.log", out)  # fmt: skip
        return _task_states(airflow_home / "airflow.db")
    finally:
        shutil.rmtree(airflow_home, ignore_errors=True)


def _dbt(root: Path, out: Path, env: dict) -> tuple[bool, str]:
    """``dbt build`` of dbt_project/ on the delivered tables; success and a summary line."""
    project = str(root / "dbt_project")
    argv = [_tool("dbt"), "build", "--project-dir", project, "--profiles-dir", project,
            "--target", "delivered", "--target-path", str(out / "dbt" / "target"),
            "--log-path", str(out / "dbt" / "logs")]  # fmt: skip
    ran = _step("dbt build of dbt_project/ on the delivered tables (target delivered)",
                argv, env, out / "logs" / "dbt-build.log", out)  # fmt: skip
    ok, line = _dbt_line(out / "dbt" / "target" / "run_results.json")
    return ran and ok, line


def run_demo(root: Path) -> int:
    """Run the demo from the checkout at ``root``; 0 when every step succeeded."""
    started = time.perf_counter()
    out = root / OUT
    shutil.rmtree(out, ignore_errors=True)
    (out / "logs").mkdir(parents=True)
    env = _env(root, out)
    states = _airflow(root, out, env) or {}
    failed = {t: s for t, s in states.items() if s != "success"}
    dag_ok = bool(states) and not failed
    dbt_ok, dbt_text = _dbt(root, out, env) if dag_ok else (False, "dbt build   not run")
    minutes, seconds = divmod(round(time.perf_counter() - started), 60)
    verdict = "done" if dag_ok and dbt_ok else "FAILED"
    print(f"\n== synthpipe demo {verdict} in {minutes} min {seconds:02d} s ==")
    print(f"Airflow     DAG {DAG_ID}: {len(states) - len(failed)} of {len(states)} tasks"
          " succeeded" + (f"; not successful: {failed}" if failed else ""))  # fmt: skip
    dataset = _dataset(out)
    if dataset is not None:
        qa = _qa_lines(_dataset_dir(out, dataset.id))
        print("\n".join([*qa, _validation_line(dataset), dbt_text, *_outputs(out, dataset)]))
    return 0 if dag_ok and dbt_ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthpipe.demo_run", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the synthpipe checkout (holds dags/ and dbt_project/)")  # fmt: skip
    root = parser.parse_args(argv).root.resolve()
    missing = [p for p in ("dags/synthetic_refresh.py", "dbt_project") if not (root / p).exists()]
    if missing:
        parser.error(f"{root} lacks {', '.join(missing)}: run from a synthpipe checkout or pass"
                     " --root")  # fmt: skip
    return run_demo(root)


if __name__ == "__main__":
    sys.exit(main())
