"""`make bench`: run every benchmark script in this folder, one after the other.

Each script writes its own results under bench/results/; this runner only sequences them
(benchmarks share 2 cores, so they never run in parallel) and reports which failed. Pass
script names to run a subset: `python bench/run.py generators validate`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Order: cheap ones first; peers (mostlyai, sdv) run inside the scripts when installed.
SCRIPTS = [
    "import_time",
    "qa_speed",
    "qa_crosscheck",
    "generators",
    "scale",
    "relational",
    "validate",
    "delivery",
]


def main(names: list[str]) -> int:
    failed = []
    for name in names or SCRIPTS:
        script = HERE / f"{name}.py"
        if not script.exists():
            print(f"== {name}: no script yet, skipped")
            continue
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"== {name}: exit {code} in {time.perf_counter() - start:.0f}s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
