"""How training of the `fidelity` generator scales: a large table and a wide table.

Two synthetic tables with mixed types and planted dependencies, built with numpy from a fixed
seed (no external data):

- large: 1,000,000 rows x 20 columns (categories, integers, floats with nulls, dates,
  timestamps, booleans, structured strings); planted: spend ~ income, income ~ age and
  segment, channel determined by product (5% noise), price ~ product, last_seen after
  signup, year of signup.
- wide: 2,000 rows x 300 columns (numbers, categories, integers, booleans), mostly
  independent noise with planted pairs deep in the table: a number that is a noisy linear
  function of another 200 columns earlier, a category that is a noisy function of a category,
  a number that is a noisy function of a category, a chain of three.

Each is written to parquet, then trained in a fresh process (all rows, default settings) that
reads the file, fits, samples and reports train seconds, peak RSS of the whole process
(``resource.getrusage(...).ru_maxrss``, so it includes reading the table) and, for every
planted dependency, its strength in the real and in the synthetic rows (Cramer's V over
quantile bins, the same measure for every type) and their ratio (retention). Timings are
medians of RUNS runs; the machine is shared, so its load average is recorded with them.
Results: bench/results/scale.md and scale.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
RUNS = int(os.environ.get("SYNTHPIPE_BENCH_SCALE_RUNS", "3"))
LARGE_ROWS = 1_000_000
WIDE_ROWS, WIDE_COLUMNS = 2_000, 300
SAMPLE_ROWS = 200_000  # synthetic rows drawn to measure dependencies of the large table
TARGETS = {"large_train_s": 120.0, "large_rss_gb": 2.0, "wide_train_s": 60.0, "retention": 0.8}


# -- the tables -------------------------------------------------------------------------------


def large_table(rows: int = LARGE_ROWS, seed: int = 0) -> tuple[pa.Table, list[tuple]]:
    """The large table and its planted dependencies (column pairs)."""
    rng = np.random.default_rng(seed)
    region = rng.choice([f"R{i}" for i in range(8)], rows, p=np.r_[0.3, 0.2, np.full(6, 0.5 / 6)])
    segment_id = rng.integers(0, 50, rows)
    age = rng.integers(18, 91, rows)
    income = 20_000 + 600 * (age - 18) + 900 * segment_id + rng.normal(0, 4_000, rows)
    spend = 0.3 * income + rng.normal(0, 1_500, rows)
    signup = np.datetime64("2019-01-01") + rng.integers(0, 5 * 365, rows).astype("timedelta64[D]")
    seen_after = rng.exponential(200 * 86_400, rows).astype(np.int64).astype("timedelta64[s]")
    last_seen = signup.astype("datetime64[s]") + seen_after
    active = seen_after.astype(np.int64) < 90 * 86_400
    status = rng.choice(["new", "open", "closed", "hold", "void"], rows).astype(object)
    status[rng.random(rows) < 0.05] = None
    product = rng.integers(0, 300, rows)
    channel = product // 60
    noise = rng.random(rows) < 0.05
    channel[noise] = rng.integers(0, 5, int(noise.sum()))
    price = np.round(5 + product * 0.5 + rng.gamma(2.0, 2.0, rows), 2)
    discount = rng.uniform(0, 0.3, rows)
    discount[rng.random(rows) < 0.3] = np.nan
    letters = np.array(list("ABCDEFGHJK"))
    code = np.char.add(
        np.char.add(letters[rng.integers(0, 10, rows)], letters[rng.integers(0, 10, rows)]),
        np.char.add("-", np.char.zfill(rng.integers(0, 10_000, rows).astype(str), 4)),
    )
    table = pa.table(
        {
            "region": region,
            "segment": pa.array([f"S{i:02d}" for i in range(50)]).take(segment_id),
            "age": age,
            "income": income,
            "spend": spend,
            "signup": pa.array(signup, pa.date32()),
            "last_seen": pa.array(last_seen, pa.timestamp("s")),
            "active": active,
            "status": pa.array(status, pa.string()),
            "visits": rng.poisson(3.0, rows),
            "ratio": rng.random(rows),
            "product": pa.array([f"P{i:03d}" for i in range(300)]).take(product),
            "channel": pa.array(["web", "shop", "phone", "partner", "mail"]).take(channel),
            "price": price,
            "quantity": rng.integers(1, 10, rows),
            "discount": pa.array(discount, from_pandas=True),
            "code": code,
            "country": rng.choice([f"C{i:02d}" for i in range(20)], rows),
            "score": rng.normal(0, 1, rows),
            "year": pa.array(signup.astype("datetime64[Y]").astype(int) + 1970),
        }
    )
    planted = [
        ("income", "spend"),
        ("age", "income"),
        ("segment", "income"),
        ("product", "channel"),
        ("product", "price"),
        ("signup", "year"),
        ("last_seen", "active"),
    ]
    return table, planted


def wide_table(
    rows: int = WIDE_ROWS, columns: int = WIDE_COLUMNS, seed: int = 0
) -> tuple[pa.Table, list[tuple]]:
    """The wide table (``columns`` >= 300) and its planted dependencies (column pairs)."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i in range(columns):
        kind = i % 4
        if kind == 0:
            data[f"n{i:03d}"] = rng.normal(0, 1, rows)
        elif kind == 1:
            levels = 3 + i % 7
            data[f"c{i:03d}"] = pa.array([f"v{j}" for j in range(levels)]).take(
                rng.integers(0, levels, rows)
            )
        elif kind == 2:
            data[f"i{i:03d}"] = rng.integers(0, 100, rows)
        else:
            data[f"b{i:03d}"] = rng.random(rows) < 0.3
    a = np.asarray(data["n040"])
    data["n240"] = 2.0 * a + rng.normal(0, 0.15, rows)
    cat = pa.array(data["c121"]).to_numpy(zero_copy_only=False)
    mapped = np.array([f"w{(int(v[1:]) * 3) % 5}" for v in cat], dtype=object)
    noisy = rng.random(rows) < 0.05
    mapped[noisy] = rng.choice([f"w{j}" for j in range(5)], int(noisy.sum()))
    data["c281"] = pa.array(mapped, pa.string())
    data["n280"] = np.array([int(v[1:]) for v in cat]) * 10.0 + rng.normal(0, 1, rows)
    data["n020"] = np.asarray(data["n160"]) + rng.normal(0, 0.2, rows)  # earlier column
    data["n292"] = np.asarray(data["n020"]) * -1.5 + rng.normal(0, 0.3, rows)  # a chain
    table = pa.table(data)
    planted = [
        ("n040", "n240"),
        ("c121", "c281"),
        ("c121", "n280"),
        ("n160", "n020"),
        ("n020", "n292"),
        ("n160", "n292"),
    ]
    return table, planted


# -- measuring --------------------------------------------------------------------------------


def strength(a: pa.ChunkedArray | pa.Array, b: pa.ChunkedArray | pa.Array) -> float:
    """Cramer's V between two columns of any type, numbers and dates in 10 quantile bins."""
    x, y = _binned(a), _binned(b)
    keep = (x >= 0) & (y >= 0)
    x, y = x[keep], y[keep]
    if len(x) == 0:
        return 0.0
    _, x = np.unique(x, return_inverse=True)
    _, y = np.unique(y, return_inverse=True)
    r, c = int(x.max()) + 1, int(y.max()) + 1
    if min(r, c) < 2:
        return 0.0
    table = np.bincount(x * c + y, minlength=r * c).reshape(r, c).astype(float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi2 = float(np.sum((table - expected) ** 2 / np.where(expected > 0, expected, 1)))
    return float(np.sqrt(chi2 / table.sum() / (min(r, c) - 1)))


def _binned(column) -> np.ndarray:
    import pyarrow.compute as pc

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_temporal(array.type):
        array = array.cast(pa.timestamp("s")) if pa.types.is_date(array.type) else array
        array = array.cast(pa.int64())
    if pa.types.is_string(array.type) or pa.types.is_boolean(array.type):
        codes = pc.dictionary_encode(array.cast(pa.string())).indices
        return codes.to_numpy(zero_copy_only=False).astype(np.float64).astype(np.int64)
    values = array.cast(pa.float64()).to_numpy(zero_copy_only=False)
    out = np.full(len(values), -1, np.int64)
    ok = ~np.isnan(values)
    if ok.any():
        unique = np.unique(values[ok])
        if len(unique) <= 10:
            out[ok] = np.searchsorted(unique, values[ok])
        else:
            edges = np.unique(np.quantile(values[ok], np.linspace(0, 1, 11)[1:-1]))
            out[ok] = np.searchsorted(edges, values[ok], side="right")
    return out


TRAIN = """
import json, resource, sys, time
import pyarrow as pa, pyarrow.parquet as pq
sys.path.insert(0, sys.argv[2])
from scale import strength
from synthpipe.generators.base import TrainingData
from synthpipe.generators.fidelity import FidelityGenerator
from synthpipe.progress import Progress
from synthpipe.schema import GeneratorConfig, SampleSpec, Table
from synthpipe.types import columns_from_arrow
real = pq.read_table(sys.argv[1])
planted = json.loads(sys.argv[3])
config = GeneratorConfig(tables=[Table(name="t", columns=columns_from_arrow(real.schema))])
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
start, cpu_start = time.perf_counter(), cpu()
generator = FidelityGenerator()
state = generator.fit(TrainingData(config, {"t": real}), Progress())
train_s, train_cpu_s = time.perf_counter() - start, cpu() - cpu_start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
rows = min(real.num_rows, int(sys.argv[4]))
spec = SampleSpec(sizes={"t": rows}, seed=1)
start = time.perf_counter()
synthetic = pa.Table.from_batches([b for _, b in generator.sample(state, spec, Progress())])
sample_s = time.perf_counter() - start
deps = []
for a, b in planted:
    r, s = strength(real[a], real[b]), strength(synthetic[a], synthetic[b])
    deps.append({"pair": f"{a} -> {b}", "real": r, "synthetic": s, "retention": s / r})
print(json.dumps({"train_s": train_s, "train_cpu_s": train_cpu_s, "peak_rss_gb": peak,
                  "sample_rows": rows, "sample_s": sample_s, "dependencies": deps}))
"""


def train_once(path: Path, planted: list[tuple], sample_rows: int) -> dict:
    """Train on the parquet file in a fresh process; its measurements."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            TRAIN,
            str(path),
            str(Path(__file__).parent),
            json.dumps(planted),
            str(sample_rows),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(name: str, table: pa.Table, planted: list[tuple], sample_rows: int) -> dict:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.parquet"
        pq.write_table(table, path)
        for i in range(RUNS):
            load = os.getloadavg()[0]
            result = train_once(path, planted, sample_rows)
            result["load_before"] = load
            print(f"{name} run {i + 1}: {_brief(result)}", flush=True)
            runs.append(result)
            if "error" in result:
                break
    ok = [r for r in runs if "error" not in r]
    summary: dict = {"rows": table.num_rows, "columns": table.num_columns, "runs": runs}
    if ok:
        summary["train_s"] = statistics.median(r["train_s"] for r in ok)
        summary["train_cpu_s"] = statistics.median(r["train_cpu_s"] for r in ok)
        summary["peak_rss_gb"] = statistics.median(r["peak_rss_gb"] for r in ok)
        summary["sample_s"] = statistics.median(r["sample_s"] for r in ok)
        summary["load"] = statistics.median(r["load_before"] for r in runs)
        summary["dependencies"] = ok[-1]["dependencies"]
        summary["min_retention"] = min(d["retention"] for d in ok[-1]["dependencies"])
    else:
        summary["error"] = runs[-1]["error"]
    return summary


def _brief(result: dict) -> str:
    if "error" in result:
        return f"error {result['error']}"
    worst = min(d["retention"] for d in result["dependencies"])
    return (
        f"train {result['train_s']:.1f}s ({result['train_cpu_s']:.1f} CPU s), "
        f"peak RSS {result['peak_rss_gb']:.2f} GB, "
        f"lowest retention {worst:.2f}"
    )


def report(results: dict) -> str:
    lines = [
        "# Training at scale (`bench/scale.py`)",
        "",
        f"Machine: {results['machine']}. Medians of {RUNS} runs, each in a fresh process; the",
        "machine is shared with other work, so times are noisy (load average before each run",
        "recorded; CPU seconds of the training process are less sensitive to it). Peak RSS",
        "covers the whole process, reading the table included.",
        "",
        "| table | rows x columns | train s | train CPU s | peak RSS GB | sample s | load |"
        " lowest retention |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results["tables"].items():
        if "error" in r:
            lines.append(f"| {name} | {r['rows']:,} x {r['columns']} | error: {r['error']} |")
            continue
        lines.append(
            f"| {name} | {r['rows']:,} x {r['columns']} | {r['train_s']:.1f} | "
            f"{r['train_cpu_s']:.1f} | {r['peak_rss_gb']:.2f} | {r['sample_s']:.1f} "
            f"({r['runs'][-1]['sample_rows']:,} rows) | {r['load']:.1f} | "
            f"{r['min_retention']:.2f} |"
        )
    lines += [
        "",
        f"Targets: large <= {TARGETS['large_train_s']:.0f} s at < {TARGETS['large_rss_gb']} GB;"
        f" wide <= {TARGETS['wide_train_s']:.0f} s; planted dependencies kept (retention = "
        "Cramer's V synthetic / real, >= 0.8).",
        "",
        "| table | planted dependency | real | synthetic | retention |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in results["tables"].items():
        for d in r.get("dependencies", []):
            lines.append(
                f"| {name} | {d['pair']} | {d['real']:.3f} | {d['synthetic']:.3f} | "
                f"{d['retention']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main(names: list[str]) -> int:
    import platform

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    results: dict = {"machine": machine, "tables": {}}
    builders = {
        "wide": lambda: (*wide_table(), WIDE_ROWS),
        "large": lambda: (*large_table(), SAMPLE_ROWS),
    }
    for name in names or list(builders):
        table, planted, sample_rows = builders[name]()
        print(f"== {name}: {table.num_rows:,} rows x {table.num_columns} columns", flush=True)
        results["tables"][name] = measure(name, table, planted, sample_rows)
        del table
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if not names else "_" + "_".join(names)
    (RESULTS / f"scale{suffix}.json").write_text(json.dumps(results, indent=1))
    (RESULTS / f"scale{suffix}.md").write_text(report(results))
    print(report(results))
    failed = [n for n, r in results["tables"].items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
