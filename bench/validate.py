"""How long validating a 1M-row x 15-column synthetic table takes (target: <= 30 s on 2 cores).

A real-looking source (customers -> events, events has 15 columns of every validated type) is
trained with the `independent` baseline and sampled to 100,000 customers with about 1,000,000
events, in 2 partitions. Then `synthpipe.validate.validate_dataset` runs in fresh processes, so
each figure includes importing Great Expectations; the median of the runs is reported, and the
time of `import great_expectations` alone for scale.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "validate.md"
RUNS = 3
CUSTOMERS = 100_000

TABLES = [
    {"name": "customers", "primary_key": "customer_id"},
    {
        "name": "events",
        "primary_key": "event_id",
        "foreign_keys": [
            {"column": "customer_id", "referenced_table": "customers", "is_context": True}
        ],
    },
]

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from synthpipe.validate import validate_dataset
result = validate_dataset(sys.argv[1], home=sys.argv[2], persist=False)
total = time.perf_counter() - t0
print(json.dumps({"seconds": total, "success": result.success, "checks": result.counts()}))
"""


def write_source(folder: Path, customers: int = 20_000) -> None:
    """Customers with about 10 events each; events have 15 columns."""
    from datetime import date, datetime
    from decimal import Decimal

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "customer_id": pa.array(np.arange(1, customers + 1)),
                "region": rng.choice([f"region-{i}" for i in range(12)], customers),
                "score": rng.normal(600, 80, customers),
            }
        ),
        folder / "customers.parquet",
    )
    per = rng.integers(1, 20, customers)
    n = int(per.sum())
    cats = np.array([f"cat-{i:02d}" for i in range(60)])
    events = pa.table(
        {
            "event_id": pa.array(np.arange(1, n + 1)),
            "customer_id": pa.array(np.repeat(np.arange(1, customers + 1), per)),
            "kind": rng.choice(["view", "click", "buy", "refund"], n),
            "channel": rng.choice(["web", "app", "store", "phone", "mail"], n),
            "category": cats[rng.integers(0, 60, n)],
            "country": rng.choice([f"C{i:02d}" for i in range(40)], n),
            "quantity": pa.array(rng.integers(1, 20, n), pa.int32()),
            "items": pa.array(rng.integers(0, 1000, n)),
            "price": rng.lognormal(3, 1, n),
            "discount": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
            "duration_s": rng.exponential(60, n),
            "amount": pa.array(
                [Decimal(f"{x:.2f}") for x in rng.uniform(1, 999, n)], pa.decimal128(10, 2)
            ),
            "at": pa.array(
                np.datetime64(datetime(2022, 1, 1)) + rng.integers(0, 10**9, n).astype("m8[s]"),
                pa.timestamp("us"),
            ),
            "day": pa.array(
                np.datetime64(date(2022, 1, 1)) + rng.integers(0, 700, n).astype("m8[D]"),
                pa.date32(),
            ),
            "flag": rng.random(n) < 0.1,
        }
    )
    pq.write_table(events, folder / "events.parquet")


def prepare(work: Path) -> tuple[str, dict]:
    from synthpipe import api

    write_source(work / "source")
    start = time.perf_counter()
    api.train(
        source={"connector": "files", "options": {"path": str(work / "source")}},
        tables=TABLES,
        generator="independent",
        name="bench",
        home=work / "home",
        holdout=0.0,
    )
    dataset = api.generate(
        "bench", sizes={"customers": CUSTOMERS}, partitions=2, home=work / "home"
    )
    info = {t: v["rows"] for t, v in dataset.tables.items()}
    info["prepare_s"] = round(time.perf_counter() - start, 1)
    return dataset.id, info


def run_once(dataset: str, home: Path) -> dict:
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "DO_NOT_TRACK": "1"}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, dataset, str(home)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    found["process_s"] = time.perf_counter() - start
    return found


def corrupt(home: Path, dataset: str) -> None:
    """Worst case for reporting: three checks fail on every row of every part."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthpipe.store import Store

    store = Store(home)
    record = store.dataset(dataset)
    for part in record.tables["events"]["parts"]:
        path = store.dataset_dir(dataset) / part
        table = pq.read_table(path)
        n = table.num_rows
        table = table.set_column(0, "event_id", pa.array([1] * n))
        table = table.set_column(4, "category", pa.array(["unseen"] * n))
        table = table.set_column(8, "price", pa.array([-1.0] * n))
        pq.write_table(table, path)


def gx_import_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import great_expectations; "
        "print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dataset, info = prepare(work)
        runs = [run_once(dataset, work / "home") for _ in range(RUNS)]
        corrupt(work / "home", dataset)
        failing = [run_once(dataset, work / "home") for _ in range(RUNS)]
    gx_import = gx_import_seconds()
    assert not any(r["success"] for r in failing), failing
    seconds = [r["seconds"] for r in runs]
    processes = [r["process_s"] for r in runs]
    assert all(r["success"] for r in runs), runs
    text = (
        "# Validation speed\n\n"
        f"Dataset: customers {info['customers']:,} rows x 3 columns, events "
        f"{info['events']:,} rows x 15 columns, 2 partitions (independent generator; "
        f"train + generate took {info['prepare_s']} s).\n"
        f"Checks: {runs[-1]['checks']['evaluated']} (GX suites on both tables + DuckDB "
        "relational checks), all passing.\n\n"
        f"| measure | median of {RUNS} fresh processes |\n| --- | --- |\n"
        f"| validate_dataset, including `import great_expectations` | "
        f"{statistics.median(seconds):.1f} s |\n"
        f"| whole process (interpreter start to exit) | {statistics.median(processes):.1f} s |\n"
        f"| `import great_expectations` alone (one run) | {gx_import:.1f} s |\n"
        "| validate_dataset on a corrupted copy (4 checks fail on every row) | "
        f"{statistics.median(r['seconds'] for r in failing):.1f} s |\n\n"
        f"Runs (s): {', '.join(f'{s:.1f}' for s in seconds)}. Target: <= 30 s on 2 cores. "
        f"Machine: {os.cpu_count()} cores, shared with other work, so timings are noisy.\n\n"
        "Command: `.venv/bin/python bench/validate.py`\n"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
