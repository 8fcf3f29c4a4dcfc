"""The report in a real browser: headless Chromium renders it without script errors.

Needs the Debian package ``chromium`` (``.ci/run`` installs it); skipped when it is absent,
except under SYNTHPIPE_REQUIRE_SERVICES=1 where its absence fails the test.
"""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthpipe.qa import evaluate
from synthpipe.qa.report import num, pct

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
]
READY = 'data-qa-ready="1"'


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if not CHROMIUM.exists():
        if os.environ.get("SYNTHPIPE_REQUIRE_SERVICES") == "1":
            pytest.fail("required service missing: Chromium (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    rng = np.random.default_rng(0)

    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "age": rng.integers(18, 90, n),
                "city": rng.choice(list("abcde"), n),
                "score": rng.normal(size=n),
            }
        )

    result = evaluate(frame(500), frame(500), frame(500))
    return result, result.write_html(tmp_path_factory.mktemp("html") / "report.html")


def _chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_report_scripts_run_to_the_end_and_show_the_headline_numbers(report):
    result, path = report
    dom = _chromium("--dump-dom", path.as_uri(), cwd=path.parent).stdout
    assert READY in dom
    headline = result.headline
    assert pct(headline["accuracy"]) in dom
    assert pct(headline["dcr_share"]) in dom
    assert num(headline["discriminator_auc"]) in dom


def test_a_script_error_leaves_the_page_not_ready(report):
    _, path = report
    broken = path.with_name("broken.html")
    html = path.read_text(encoding="utf-8")
    broken.write_text(
        html.replace("(function () {", "(function () { null.boom();", 1), encoding="utf-8"
    )
    dom = _chromium("--dump-dom", broken.as_uri(), cwd=path.parent).stdout
    assert "<body" in dom and READY not in dom


def test_report_screenshot_is_not_blank(report):
    _, path = report
    shot = path.with_name("shot.png")
    _chromium(f"--screenshot={shot}", "--window-size=1200,1500", path.as_uri(), cwd=path.parent)
    width, height, busy = _busy_rows(shot.read_bytes())
    assert (width, height) == (1200, 1500)
    assert busy > 0.10


def _busy_rows(png: bytes) -> tuple[int, int, float]:
    """Image size and the share of rows that differ from a flat colour.

    Reads the PNG's filtered scanlines without decoding them: in a single-colour image every
    row, after its first pixel, filters to zeros (Sub, Up, Average, Paeth) or repeats one
    pixel (None). A row that does neither has content.
    """
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        data = png[pos + 8 : pos + 8 + length]
        header = data if kind == b"IHDR" else header
        idat += data if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), "expected 8-bit RGB or RGBA"
    bpp = 3 if colour == 2 else 4
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * bpp)
    filters, pixels = rows[:, 0], rows[:, 1:]
    residual_busy = (pixels[:, bpp:] != 0).any(axis=1)
    repeated = (pixels.reshape(height, width, bpp) == pixels[:, None, :bpp]).all(axis=(1, 2))
    busy = np.where(filters == 0, ~repeated, residual_busy)
    return width, height, float(busy[1:].mean())
