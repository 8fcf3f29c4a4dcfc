"""How good and how fast synthpipe's generators are, on UCI Adult and on a relational dataset.

Adult (../shared/data/adult): each generator is trained on the train half, samples 24,421
rows and is scored by ``synthpipe.qa.evaluate`` against train + holdout (accuracy with its
analytic ceiling, DCR share, identical-match shares, discriminator AUC). Timings are medians of
RUNS runs on this machine, which other work shares. Throughput samples 1M Adult-shaped rows;
streaming writes 10M rows to parquet batch by batch in a fresh process and reports its peak
RSS. The relational dataset is the embedded Portal rodent surveys (ratdat): plots -> surveys,
a sequence per plot ordered by survey date, species as an original-data lookup; plots are
split 2:1 into train and holdout. Peers (mostlyai-engine TabularARGN, SDV GaussianCopula, and
CTGAN with SYNTHPIPE_BENCH_CTGAN=1) run on the same Adult split when the `bench` extra is
installed. Results: bench/results/generators.md and generators.json.
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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ADULT = ROOT.parent / "shared" / "data" / "adult"
RATDAT = ROOT / "src" / "synthpipe" / "demo" / "ratdat"
RUNS = 3
THROUGHPUT_ROWS = 1_000_000
STREAM_ROWS = 10_000_000
GENERATORS = ("fidelity", "independent")
TARGETS = {
    "accuracy": 0.975,
    "bivariate": 0.975,
    "dcr_share": 0.52,
    "auc": 0.55,
    "train_s": 10.0,
    "sample_s": 1.0,
    "rows_per_s": 500_000,
    "rss_gb": 2.0,
}


def main() -> int:
    from synthpipe.qa import evaluate  # noqa: F401  (fail early when QA is missing)

    results = {"machine": _machine(), "adult": {}, "ratdat": {}, "peers": {}}
    train, holdout = (pq.read_table(ADULT / f"adult_{p}.parquet") for p in ("train", "holdout"))
    for kind in GENERATORS:
        print(f"adult / {kind}", flush=True)
        results["adult"][kind] = adult(kind, train, holdout)
    print("adult / fidelity: 10M rows to parquet", flush=True)
    results["adult"]["fidelity"]["stream"] = stream(STREAM_ROWS)
    for kind in GENERATORS:
        print(f"ratdat / {kind}", flush=True)
        results["ratdat"][kind] = ratdat(kind)
    results["peers"] = peers(train.to_pandas(), holdout.to_pandas())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "generators.json").write_text(json.dumps(results, indent=1, default=float))
    (RESULTS / "generators.md").write_text(report(results))
    print(report(results))
    return 0


# -- Adult ------------------------------------------------------------------------------------


def single_table_config(arrow: pa.Table, kind: str):
    from synthpipe.schema import GeneratorConfig, Table
    from synthpipe.types import columns_from_arrow

    table = Table(name="adult", columns=columns_from_arrow(arrow.schema))
    return GeneratorConfig(generator=kind, tables=[table])


def fit(kind: str, config, tables: dict[str, pa.Table]):
    from synthpipe import plugins
    from synthpipe.generators.base import TrainingData
    from synthpipe.progress import Progress

    generator = plugins.generator_class(kind)()
    return generator, generator.fit(TrainingData(config, tables), Progress())


def sample(generator, state, **spec) -> dict[str, pa.Table]:
    from synthpipe.progress import Progress
    from synthpipe.schema import SampleSpec

    out: dict[str, list] = {}
    for name, batch in generator.sample(state, SampleSpec(**spec), Progress()):
        out.setdefault(name, []).append(batch)
    return {n: pa.Table.from_batches(b) for n, b in out.items()}


def timed(function, runs: int = RUNS) -> tuple[float, object]:
    """Median seconds of ``runs`` calls, and the last call's result."""
    seconds, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def adult(kind: str, train: pa.Table, holdout: pa.Table) -> dict:
    from synthpipe.qa import evaluate

    config = single_table_config(train, kind)
    train_s, (generator, state) = timed(lambda: fit(kind, config, {"adult": train}))
    sample_s, synthetic = timed(lambda: sample(generator, state, seed=0)["adult"])
    rows = {"adult": THROUGHPUT_ROWS}
    big_s, _ = timed(lambda: sample(generator, state, seed=1, sizes=rows))
    metrics = evaluate(train.to_pandas(), synthetic.to_pandas(), holdout.to_pandas()).metrics
    table = next(iter(metrics["tables"].values()))
    return {
        "train_s": train_s,
        "sample_s": sample_s,
        "rows": synthetic.num_rows,
        "rows_per_s": THROUGHPUT_ROWS / big_s,
        "state_mb": _state_mb(state),
        **_scores(table),
    }


def _scores(table: dict) -> dict:
    accuracy, privacy = table["accuracy"], table["privacy"]
    return {
        "accuracy": accuracy["overall"],
        "ceiling": accuracy["ceiling"]["overall"],
        "univariate": accuracy["univariate"],
        "bivariate": accuracy["bivariate"],
        "trivariate": accuracy.get("trivariate"),
        "coherence": accuracy.get("coherence"),
        "dcr_share": privacy["dcr_share"],
        "ims_train": privacy["identical_match_share_train"],
        "ims_holdout": privacy["identical_match_share_holdout"],
        "auc": table["similarity"]["discriminator_auc"],
    }


def _state_mb(state) -> float:
    size = sum(a.nbytes for a in state.arrays.values())
    size += sum(t.nbytes for t in state.tables.values())
    return size / 1e6


STREAM = """
import json, resource, sys, time
import pyarrow.parquet as pq
sys.path.insert(0, sys.argv[3])
from generators import fit, single_table_config
from synthpipe.progress import Progress
from synthpipe.schema import SampleSpec
train = pq.read_table(sys.argv[1])
generator, state = fit("fidelity", single_table_config(train, "fidelity"), {"adult": train})
start, writer, rows = time.perf_counter(), None, 0
spec = SampleSpec(sizes={"adult": int(sys.argv[2])}, seed=5)
for _, batch in generator.sample(state, spec, Progress()):
    writer = writer or pq.ParquetWriter(sys.argv[4], batch.schema, compression="zstd")
    writer.write_batch(batch)
    rows += batch.num_rows
writer.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start, "peak_rss_gb": peak}))
"""


def stream(rows: int) -> dict:
    """Generate ``rows`` rows straight to a parquet file in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                STREAM,
                str(ADULT / "adult_train.parquet"),
                str(rows),
                str(Path(__file__).parent),
                str(Path(tmp) / "adult.parquet"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- ratdat ----------------------------------------------------------------------------------


def ratdat_config(kind: str, tables: dict[str, pa.Table]):
    from synthpipe.schema import ForeignKey, GeneratorConfig, Table
    from synthpipe.types import columns_from_arrow

    def table(name, **kw):
        return Table(name=name, columns=columns_from_arrow(tables[name].schema), **kw)

    surveys_keys = [
        ForeignKey(column="plot_id", referenced_table="plots", is_context=True),
        ForeignKey(column="species_id", referenced_table="species"),
    ]
    return GeneratorConfig(
        generator=kind,
        tables=[
            table("plots", primary_key=["plot_id"]),
            table("species", primary_key=["species_id"], original_data=True),
            table(
                "surveys",
                primary_key=["record_id"],
                order_by=["survey_date"],
                foreign_keys=surveys_keys,
            ),
        ],
    )


def ratdat_split(seed: int = 0) -> tuple[dict, dict]:
    """Train and holdout tables: a third of the plots (with their surveys) held out."""
    tables = {n: pq.read_table(RATDAT / f"{n}.parquet") for n in ("plots", "surveys", "species")}
    plots = tables["plots"]["plot_id"].to_numpy()
    held = set(np.random.default_rng(seed).choice(plots, len(plots) // 3, replace=False))

    def part(keep: bool) -> dict[str, pa.Table]:
        mask = pa.array([(p in held) != keep for p in plots])
        kept = tables["plots"].filter(mask)
        surveys = tables["surveys"].filter(pc.is_in(tables["surveys"]["plot_id"], kept["plot_id"]))
        return {"plots": kept, "surveys": surveys, "species": tables["species"]}

    return part(True), part(False)


def ratdat(kind: str) -> dict:
    """Relational checks on the whole dataset, fidelity and privacy on a 2:1 plot split."""
    from synthpipe.qa import evaluate

    whole = {n: pq.read_table(RATDAT / f"{n}.parquet") for n in ("plots", "surveys", "species")}
    config = ratdat_config(kind, whole)
    train_s, (generator, state) = timed(lambda: fit(kind, config, whole))
    sample_s, synthetic = timed(lambda: sample(generator, state, seed=0))
    frames = {n: t.to_pandas() for n, t in whole.items()}
    made = {n: t.to_pandas() for n, t in synthetic.items()}
    relational = evaluate(frames, made, config=config).metrics["tables"]["surveys"]["relational"]
    surveys, plots = synthetic["surveys"], synthetic["plots"]
    out = {
        "train_s": train_s,
        "sample_s": sample_s,
        "rows": surveys.num_rows,
        "orphans": int(
            len(surveys) - pc.sum(pc.is_in(surveys["plot_id"], plots["plot_id"])).as_py()
        ),
        "duplicate_pks": int(surveys.num_rows - pc.count_distinct(surveys["record_id"]).as_py()),
        "children_accuracy": relational["children_per_parent_accuracy"],
        "children_ceiling": relational["children_per_parent_ceiling"],
        "referential_integrity": relational["referential_integrity"],
    }
    train, holdout = ratdat_split()
    _, (generator, state) = timed(lambda: fit(kind, ratdat_config(kind, train), train), runs=1)
    size = {"plots": train["plots"].num_rows + holdout["plots"].num_rows}
    synthetic = sample(generator, state, seed=0, sizes=size)
    frames = [{n: t.to_pandas() for n, t in d.items()} for d in (train, synthetic, holdout)]
    metrics = evaluate(frames[0], frames[1], frames[2], config=config).metrics
    split = metrics["tables"]["surveys"]
    return {
        **out,
        **_scores(split),
        "rows_accuracy": _rows_accuracy(frames),
        "split_children_accuracy": split["relational"]["children_per_parent_accuracy"],
        "split_children_ceiling": split["relational"]["children_per_parent_ceiling"],
    }


def _rows_accuracy(frames: list[dict[str, pd.DataFrame]]) -> float:
    """Accuracy of the survey rows as a flat table (the sequence view scores one row per plot)."""
    from synthpipe.qa import evaluate

    columns = ["survey_date", "species_id", "sex", "hindfoot_length", "weight"]
    train, synthetic, holdout = (f["surveys"][columns] for f in frames)
    tables = evaluate(train, synthetic, holdout).metrics["tables"]
    return next(iter(tables.values()))["accuracy"]["overall"]


# -- peers -----------------------------------------------------------------------------------


def peers(train: pd.DataFrame, holdout: pd.DataFrame) -> dict:
    """mostlyai-engine and SDV on the same Adult split, when the `bench` extra is installed."""
    out = {}
    runners = {"mostlyai TabularARGN": _tabular_argn, "sdv GaussianCopula": _gaussian_copula}
    if os.environ.get("SYNTHPIPE_BENCH_CTGAN") == "1":
        runners["sdv CTGAN"] = _ctgan
    for name, runner in runners.items():
        print(f"peer / {name}", flush=True)
        try:
            out[name] = _peer(runner, train, holdout)
        except ImportError as exc:
            out[name] = {"skipped": f"not installed ({exc.name}); `pip install -e .[bench]`"}
        except Exception as exc:  # one failing peer must not lose the others' figures
            out[name] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
    return out


def _peer(runner, train: pd.DataFrame, holdout: pd.DataFrame) -> dict:
    from synthpipe.qa import evaluate

    start = time.perf_counter()
    synthetic, train_s = runner(train)
    sample_s = time.perf_counter() - start - train_s
    tables = evaluate(train, synthetic[list(train.columns)], holdout).metrics["tables"]
    return {"train_s": train_s, "sample_s": sample_s, **_scores(next(iter(tables.values())))}


def _tabular_argn(train: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    from mostlyai import engine

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        start = time.perf_counter()
        engine.split(workspace_dir=workspace, tgt_data=train, model_type="TABULAR")
        engine.analyze(workspace_dir=workspace)
        engine.encode(workspace_dir=workspace)
        engine.train(workspace_dir=workspace)
        train_s = time.perf_counter() - start
        engine.generate(workspace_dir=workspace, sample_size=len(train))
        return pd.read_parquet(workspace / "SyntheticData"), train_s


def _sdv(train: pd.DataFrame, synthesizer: str, **kw) -> tuple[pd.DataFrame, float]:
    import sdv.single_table
    from sdv.metadata import Metadata

    metadata = Metadata.detect_from_dataframes({"adult": train})
    model = getattr(sdv.single_table, synthesizer)(metadata, **kw)
    start = time.perf_counter()
    model.fit({"adult": train})
    train_s = time.perf_counter() - start
    synthetic = model.sample(len(train))
    return (synthetic["adult"] if isinstance(synthetic, dict) else synthetic), train_s


def _gaussian_copula(train):
    return _sdv(train, "GaussianCopulaSynthesizer")


def _ctgan(train):
    return _sdv(train, "CTGANSynthesizer", epochs=180)


# -- report ----------------------------------------------------------------------------------


def report(results: dict) -> str:
    lines = [
        f"# Generators benchmark\n\n{results['machine']}\n",
        "## UCI Adult (train 24,421 rows; sample 24,421; scored against train + holdout)\n",
        "| generator | train s | sample s | rows/s (1M) | state MB | accuracy (ceiling) "
        "| univariate | bivariate | trivariate | DCR share | identical train / holdout "
        "| discriminator AUC |",
        "|---" * 12 + "|",
    ]
    for kind, r in results["adult"].items():
        lines.append(
            f"| {kind} | {r['train_s']:.2f} | {r['sample_s']:.3f} | "
            f"{r['rows_per_s']:,.0f} | {r['state_mb']:.2f} | {_accuracy(r)} | "
            f"{r['univariate']:.4f} | {r['bivariate']:.4f} | {r['trivariate']:.4f} | "
            f"{r['dcr_share']:.3f} | {r['ims_train']:.4f} / {r['ims_holdout']:.4f} | "
            f"{r['auc']:.3f} |"
        )
    s = results["adult"]["fidelity"].get("stream")
    if s:
        lines.append(
            f"\nfidelity, {s['rows']:,} rows streamed to parquet: {s['seconds']:.1f} s "
            f"({s['rows'] / s['seconds']:,.0f} rows/s), peak RSS "
            f"{s['peak_rss_gb']:.2f} GB.\n"
        )
    lines += [
        _targets(results["adult"]["fidelity"]),
        _ratdat(results["ratdat"]),
        _peers(results["peers"], results["adult"]["fidelity"]),
    ]
    return "\n".join(lines) + "\n"


def _accuracy(r: dict) -> str:
    return f"{r['accuracy']:.4f} ({r['ceiling']:.4f})"


def _targets(r: dict) -> str:
    checks = [
        ("overall accuracy >= 0.975", f"{r['accuracy']:.4f}", r["accuracy"] >= TARGETS["accuracy"]),
        ("bivariate >= 0.975", f"{r['bivariate']:.4f}", r["bivariate"] >= TARGETS["bivariate"]),
        ("DCR share <= 0.52", f"{r['dcr_share']:.4f}", r["dcr_share"] <= TARGETS["dcr_share"]),
        (
            "identical matches with training <= with holdout",
            f"{r['ims_train']:.4f} <= {r['ims_holdout']:.4f}",
            r["ims_train"] <= r["ims_holdout"],
        ),
        ("discriminator AUC <= 0.55", f"{r['auc']:.4f}", r["auc"] <= TARGETS["auc"]),
        ("train <= 10 s", f"{r['train_s']:.2f} s", r["train_s"] <= TARGETS["train_s"]),
        (
            "sample 24,421 rows <= 1 s",
            f"{r['sample_s']:.3f} s",
            r["sample_s"] <= TARGETS["sample_s"],
        ),
        (
            "sampling >= 500k rows/s",
            f"{r['rows_per_s']:,.0f} rows/s",
            r["rows_per_s"] >= TARGETS["rows_per_s"],
        ),
    ]
    if r.get("stream"):
        rss = r["stream"]["peak_rss_gb"]
        checks.append(
            ("10M rows to parquet, peak RSS < 2 GB", f"{rss:.2f} GB", rss < TARGETS["rss_gb"])
        )
    lines = ["## Adult targets (fidelity)\n", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'yes' if ok else 'NO'} |" for name, value, ok in checks]
    return "\n".join(lines) + "\n"


def _ratdat(results: dict) -> str:
    lines = [
        "## Relational: ratdat (plots -> surveys sequences, species lookup)\n",
        "Keys and children per parent: trained on all 24 plots, 24 generated. Accuracy, "
        "privacy and the split children figure: trained on 16 plots with their surveys, 8 "
        "held out, 24 generated; the sequence view scores one random row per plot (so "
        "24 real rows), the survey rows accuracy scores all rows as a flat table.\n",
        "| generator | train s | sample s | survey rows | orphan FKs | duplicate PKs | "
        "children-per-parent accuracy (ceiling) | same, on the split | survey rows "
        "accuracy | sequence accuracy (ceiling) | coherence | DCR share | "
        "discriminator AUC |",
        "|---" * 13 + "|",
    ]
    for kind, r in results.items():
        coherence = f"{r['coherence']:.4f}" if r.get("coherence") is not None else "-"
        lines.append(
            f"| {kind} | {r['train_s']:.2f} | {r['sample_s']:.2f} | {r['rows']:,} | "
            f"{r['orphans']} | {r['duplicate_pks']} | {r['children_accuracy']:.3f} "
            f"({r['children_ceiling']:.3f}) | {r['split_children_accuracy']:.3f} "
            f"({r['split_children_ceiling']:.3f}) | {r['rows_accuracy']:.4f} | "
            f"{_accuracy(r)} | {coherence} | {r['dcr_share']:.3f} | {r['auc']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _peers(peers: dict, ours: dict) -> str:
    lines = ["## Peers on the same Adult split\n"]
    for name, r in peers.items():
        if "skipped" in r:
            lines.append(f"- {name}: skipped, {r['skipped']}")
            continue
        lines.append(
            f"- {name}: train {r['train_s']:.1f} s, accuracy {_accuracy(r)}, "
            f"DCR share {r['dcr_share']:.3f}, AUC {r['auc']:.3f}; fidelity trains "
            f"{r['train_s'] / ours['train_s']:.1f}x faster, accuracy ratio "
            f"{ours['accuracy'] / r['accuracy']:.3f}"
        )
    return "\n".join(lines) + "\n"


def _machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"Measured on {os.cpu_count()} CPU cores shared with other work (load average "
        f"{load:.1f} at the start), Python {sys.version.split()[0]}, medians of {RUNS} "
        f"runs; {time.strftime('%Y-%m-%d %H:%M')}."
    )


if __name__ == "__main__":
    sys.exit(main())
