"""How long the full QA report takes on UCI Adult: evaluate + write_html, median of runs.

Training, holdout and synthetic data are 24,421 x 15 each (the synthetic data is the
independent baseline). The budget is 15 s on 2 cores. Machines shared with other work are
noisy: the load average is recorded next to the timings.

    .venv/bin/python bench/qa_speed.py --runs 5

Results: bench/results/qa_speed.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from qa_crosscheck import DATA, RESULTS, independent_baseline  # noqa: E402

BUDGET_S = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=RESULTS / "qa_speed")
    args = parser.parse_args()
    import pandas as pd

    train = pd.read_parquet(args.data / "adult_train.parquet")
    holdout = pd.read_parquet(args.data / "adult_holdout.parquet")
    synthetic, how = independent_baseline(train, 0)
    runs = [_run(train, holdout, synthetic, seed) for seed in range(args.runs)]
    _write(runs, how, args.out)


def _run(train, holdout, synthetic, seed: int) -> dict:
    from synthpipe.qa import evaluate

    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = evaluate(train, synthetic, holdout, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        result.write_html(Path(tmp) / "report.html")
    seconds = time.perf_counter() - started
    steps = result.metrics["timings"]["qa"]
    print(f"run {seed}: {seconds:.2f} s (load {load:.1f}) {steps}", flush=True)
    return {"seconds": seconds, "load_average": load, "steps": steps}


def _write(runs: list[dict], how: str, out: Path) -> None:
    median = statistics.median(r["seconds"] for r in runs)
    summary = {
        "median_s": median,
        "budget_s": BUDGET_S,
        "cpus": os.cpu_count(),
        "synthetic": how,
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    step_names = list(runs[0]["steps"])
    lines = [
        "# synthpipe.qa speed on UCI Adult (24,421 x 15: train, holdout, synthetic)",
        "",
        f"Full report (evaluate + write_html): median **{median:.2f} s** over {len(runs)} "
        f"runs on {os.cpu_count()} CPUs (budget {BUDGET_S:.0f} s; mostlyai-qa takes about "
        "42 s on the reference machine). The first run includes importing scikit-learn.",
        f"Synthetic data: {how}.",
        "",
        "| run | total s | load avg | " + " | ".join(f"{s} s" for s in step_names) + " |",
        "| --- " * (3 + len(step_names)) + "|",
    ]
    for i, r in enumerate(runs):
        cells = " | ".join(f"{r['steps'].get(s, 0):.2f}" for s in step_names)
        lines.append(f"| {i} | {r['seconds']:.2f} | {r['load_average']:.1f} | {cells} |")
    lines += [
        "",
        "Privacy and similarity run side by side on two threads, so their step times "
        "overlap in the total.",
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
