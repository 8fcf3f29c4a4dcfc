"""The HTML report is one self-contained file that stays readable with many columns."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from synthpipe.qa import evaluate
from synthpipe.qa.report import MATRIX_COLUMNS, VISIBLE_COLUMNS


def _frame(seed: int, n: int = 300, columns: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"num_{i}": rng.normal(i, 1, n) for i in range(columns // 2)}
    data |= {f"cat_{i}": rng.choice(list("abcd"), n) for i in range(columns - columns // 2)}
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> str:
    result = evaluate(_frame(1), _frame(2), _frame(3))
    path = result.write_html(
        tmp_path_factory.mktemp("r") / "report.html",
        title="Quarterly <test>",
        generator_config={"generator": "independent"},
    )
    return path.read_text(encoding="utf-8")


def test_report_loads_nothing_from_the_network(html):
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html


def test_report_shows_the_headline_numbers_and_verdict(html):
    assert 'data-metric="accuracy"' in html and 'data-metric="dcr-share"' in html
    assert 'data-metric="discriminator-auc"' in html
    assert 'class="verdict' in html


def test_report_escapes_user_text(html):
    assert "Quarterly &lt;test&gt;" in html


def test_report_embeds_config_and_plots(html):
    assert (
        "&#34;generator&#34;: &#34;independent&#34;" in html or '"generator": "independent"' in html
    )
    assert html.count("<svg") >= 5


def test_many_columns_are_collapsed_and_matrices_limited_to_the_worst(tmp_path):
    result = evaluate(_frame(1, 200, 120), _frame(2, 200, 120))
    html = result.write_html(tmp_path / "wide.html").read_text(encoding="utf-8")
    assert "Show 108 more columns" in html
    assert html.count('<details class="col"') == 120
    assert f"the {MATRIX_COLUMNS} worst of 120 columns" in html
    assert VISIBLE_COLUMNS == 12
