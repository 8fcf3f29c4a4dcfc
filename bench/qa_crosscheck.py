"""Cross-check synthpipe.qa against mostlyai-qa on UCI Adult.

Two synthetic datasets are scored by both: (a) the holdout itself (its accuracy is the ceiling,
its DCR share 0) and (b) the ``independent`` baseline (each column drawn from its own training
distribution, nulls at their rate). Overall accuracy and DCR share must agree within 0.01.

Run from the project venv. mostlyai-qa comes from the ``bench`` extra; where it lives in
another interpreter, name it with ``--peer-python`` and its part runs there (the two exchange
parquet files and JSON):

    .venv/bin/python bench/qa_crosscheck.py --peer-python /tmp/qavenv/bin/python

Results: a side-by-side table on stdout, bench/results/qa_crosscheck.{md,json}.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "adult"
RESULTS = ROOT / "bench" / "results"
TOLERANCE = 0.01
COMPARED = ("accuracy", "dcr_share")


def main() -> None:
    args = _arguments()
    if args.peer_worker:
        _peer_worker(Path(args.peer_worker))
        return
    if args.render:
        stored = json.loads(Path(args.render).read_text())
        _write(stored["cases"], args, stored["meta"])
        return
    import pandas as pd

    train = pd.read_parquet(args.data / "adult_train.parquet")
    holdout = pd.read_parquet(args.data / "adult_holdout.parquet")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"train": Path(tmp) / "train.parquet", "holdout": Path(tmp) / "holdout.parquet"}
        train.to_parquet(paths["train"])
        holdout.to_parquet(paths["holdout"])
        for case, synthetic, how in _cases(train, holdout, args.seed):
            syn_path = Path(tmp) / f"{case}.parquet"
            synthetic.to_parquet(syn_path)
            ours = [_ours(train, holdout, synthetic, seed) for seed in range(args.runs)]
            peer = [
                _peer(paths, syn_path, seed, args.peer_python) for seed in range(args.peer_runs)
            ]
            rows.append(
                {
                    "case": case,
                    "synthetic": how,
                    "synthpipe": ours,
                    "mostlyai_qa": [p for p in peer if p is not None],
                }
            )
            print(_line(rows[-1]), flush=True)
    _write(rows, args)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with adult_*.parquet")
    parser.add_argument("--peer-python", help="interpreter that has mostlyai-qa installed")
    parser.add_argument("--runs", type=int, default=3, help="synthpipe runs (seeds 0..n-1)")
    parser.add_argument("--peer-runs", type=int, default=1, help="mostlyai-qa runs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the independent baseline")
    parser.add_argument("--out", type=Path, default=RESULTS / "qa_crosscheck")
    parser.add_argument("--render", help="rewrite the markdown from a stored results JSON")
    parser.add_argument("--peer-worker", help=argparse.SUPPRESS)
    return parser.parse_args()


def _cases(train, holdout, seed: int):
    yield "holdout", holdout.copy(), "the holdout itself"
    synthetic, how = independent_baseline(train, seed)
    yield "independent", synthetic, how


def independent_baseline(train, seed: int):
    """The independent baseline: synthpipe's generator without value protection, if present."""
    try:
        import pyarrow as pa

        from synthpipe.generators.base import TrainingData
        from synthpipe.generators.independent import IndependentGenerator
        from synthpipe.progress import Progress
        from synthpipe.schema import GeneratorConfig, SampleSpec
    except ImportError:
        return independent_numpy(train, seed), f"numpy sampler (seed {seed})"
    config = GeneratorConfig(
        generator="independent",
        tables=[{"name": "adult"}],
        model_configuration={"value_protection": False},
    )
    generator = IndependentGenerator()
    state = generator.fit(TrainingData(config, {"adult": pa.Table.from_pandas(train)}), Progress())
    spec = SampleSpec(sizes={"adult": len(train)}, seed=seed)
    batches = [b for _, b in generator.sample(state, spec, Progress())]
    frame = pa.Table.from_batches(batches).to_pandas()
    return frame, f"synthpipe independent generator, value_protection off (seed {seed})"


def independent_numpy(train, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {c: train[c].to_numpy()[rng.integers(0, len(train), len(train))] for c in train.columns}
    )


def _ours(train, holdout, synthetic, seed: int) -> dict:
    from synthpipe.qa import evaluate

    started = time.perf_counter()
    headline = evaluate(train, synthetic, holdout, seed=seed).headline
    return {
        "accuracy": headline["accuracy"],
        "ceiling": headline["ceiling"],
        "dcr_share": headline["dcr_share"],
        "discriminator_auc": headline["discriminator_auc"],
        "seconds": time.perf_counter() - started,
    }


def _peer(paths: dict, synthetic: Path, seed: int, peer_python: str | None) -> dict | None:
    job = {
        "train": str(paths["train"]),
        "holdout": str(paths["holdout"]),
        "synthetic": str(synthetic),
        "seed": seed,
    }
    if importlib.util.find_spec("mostlyai") and importlib.util.find_spec("mostlyai.qa"):
        return _peer_run(job)
    if not peer_python:
        print(
            "mostlyai-qa is not installed: pip install 'synthpipe[bench]' or pass --peer-python",
            file=sys.stderr,
        )
        return None
    job_path = synthetic.with_suffix(f".peer{seed}.json")
    job_path.write_text(json.dumps(job))
    subprocess.run(
        [peer_python, __file__, "--peer-worker", str(job_path)],
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return json.loads(job_path.with_suffix(".out.json").read_text())


def _peer_worker(job_path: Path) -> None:
    """Runs inside the peer's interpreter: score one synthetic dataset with mostlyai-qa."""
    job = json.loads(job_path.read_text())
    job_path.with_suffix(".out.json").write_text(json.dumps(_peer_run(job)))


def _peer_run(job: dict) -> dict:
    import random

    import numpy as np
    import pandas as pd
    from mostlyai import qa

    random.seed(job["seed"])
    np.random.seed(job["seed"])  # mostlyai-qa samples with numpy's global generator
    frames = {k: pd.read_parquet(job[k]) for k in ("train", "holdout", "synthetic")}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        _, metrics = qa.report(
            syn_tgt_data=frames["synthetic"],
            trn_tgt_data=frames["train"],
            hol_tgt_data=frames["holdout"],
            report_path=Path(tmp) / "report.html",
        )
    return {
        "accuracy": metrics.accuracy.overall,
        "ceiling": metrics.accuracy.overall_max,
        "dcr_share": metrics.distances.dcr_share,
        "discriminator_auc": metrics.similarity.discriminator_auc_training_synthetic,
        "seconds": time.perf_counter() - started,
        "version": _peer_version(),
    }


def _peer_version() -> str:
    from importlib.metadata import version

    return version("mostlyai-qa")


def _mean(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return sum(values) / len(values) if values else None


def _line(row: dict) -> str:
    parts = [f"{row['case']:<12}"]
    for key in (*COMPARED, "ceiling", "discriminator_auc", "seconds"):
        ours, peer = _mean(row["synthpipe"], key), _mean(row["mostlyai_qa"], key)
        parts.append(f"{key} {_fmt(ours)} vs {_fmt(peer)}")
    return " | ".join(parts)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _verdict(row: dict, key: str) -> str:
    peer = _mean(row["mostlyai_qa"], key)
    if peer is None:
        return "no peer run"
    worst = max(abs(r[key] - peer) for r in row["synthpipe"])
    return f"{'agree' if worst <= TOLERANCE else 'DIFFER'} (max |diff| {worst:.4f})"


def _write(rows: list[dict], args, meta: dict | None = None) -> None:
    meta = meta or {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "tolerance": TOLERANCE,
        "data": str(args.data),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "cases": rows}, indent=2))
    lines = [
        "# synthpipe.qa vs mostlyai-qa on UCI Adult",
        "",
        f"{len(rows[0]['synthpipe'])} synthpipe run(s) (seeds 0, 1, ...) and "
        f"{len(rows[0]['mostlyai_qa'])} mostlyai-qa run(s) per case; check: every synthpipe run "
        f"within ±{TOLERANCE} of the mostlyai-qa mean. Machine: {meta['cpus']} CPUs shared "
        f"with other work, load average at the end {meta['load_average'][0]:.1f}.",
        "",
        "| case | metric | synthpipe (each run) | mostlyai-qa (each run) | check |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        for key in (*COMPARED, "ceiling", "discriminator_auc", "seconds"):
            ours = ", ".join(_fmt(r[key]) for r in row["synthpipe"])
            peer = ", ".join(_fmt(r[key]) for r in row["mostlyai_qa"]) or "-"
            check = _verdict(row, key) if key in COMPARED else ""
            lines.append(f"| {row['case']} | {key} | {ours} | {peer} | {check} |")
    versions = {r.get("version") for row in rows for r in row["mostlyai_qa"]} - {None}
    lines += [
        "",
        "Synthetic data: " + "; ".join(f"{r['case']} = {r['synthetic']}" for r in rows) + ".",
        f"mostlyai-qa version: {', '.join(sorted(versions)) or 'not run'}.",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
