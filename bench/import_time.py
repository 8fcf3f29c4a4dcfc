"""How long `import synthpipe` and `synthpipe --help` take (median of 7 fresh processes)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "import_time.md"


def median_seconds(args: list[str], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    baseline = median_seconds([sys.executable, "-c", "pass"])
    imported = median_seconds([sys.executable, "-c", "import synthpipe"])
    help_ = median_seconds([sys.executable, "-m", "synthpipe.cli", "--help"])
    rows = [
        ("python -c pass (interpreter start)", baseline),
        ("python -c 'import synthpipe'", imported),
        ("synthpipe --help", help_),
    ]
    text = "| command | median s (7 runs) |\n| --- | --- |\n"
    text += "".join(f"| {name} | {secs:.3f} |\n" for name, secs in rows)
    text += f"\nimport synthpipe alone: {imported - baseline:.3f} s over interpreter start.\n"
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
