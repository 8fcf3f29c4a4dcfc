"""95% intervals: they contain their estimate, shrink with more rows, and are reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpipe.progress import Progress
from synthpipe.qa import evaluate, summarize
from synthpipe.qa.intervals import auc_interval, newcombe, wilson
from synthpipe.qa.knn import nearest_groups
from synthpipe.qa.privacy import dcr_share_interval

# (headline estimate, its interval) pairs.
PAIRS = [
    ("accuracy", "accuracy_interval"),
    ("dcr_share", "dcr_share_interval"),
    ("identical_match_share_train", "identical_match_share_train_interval"),
    ("identical_match_share_holdout", "identical_match_share_holdout_interval"),
    ("train_match_share_synthetic", "train_match_share_synthetic_interval"),
    ("train_match_share_holdout", "train_match_share_holdout_interval"),
    ("train_match_excess", "train_match_excess_interval"),
    ("discriminator_auc", "discriminator_auc_interval"),
]


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(0, 1, n),
            "k": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            "small": rng.choice([1, 2, 3], n),  # rows sometimes match exactly
        }
    )


def _headline(n: int) -> dict:
    return evaluate(_frame(n, 1), _frame(n, 2), _frame(n, 3)).headline


@pytest.fixture(scope="module")
def headlines() -> dict[int, dict]:
    return {n: _headline(n) for n in (200, 2000)}


@pytest.mark.parametrize(("estimate", "interval"), PAIRS)
def test_every_interval_contains_its_estimate(headlines, estimate, interval):
    for headline in headlines.values():
        low, high = headline[interval]
        assert low <= headline[estimate] <= high


@pytest.mark.parametrize(("estimate", "interval"), PAIRS)
def test_intervals_shrink_with_ten_times_the_rows(headlines, estimate, interval):
    def width(n):
        low, high = headlines[n][interval]
        return high - low

    assert width(2000) < width(200)


def test_intervals_are_the_same_for_the_same_seed():
    first = evaluate(_frame(300, 1), _frame(300, 2), _frame(300, 3), seed=5).headline
    second = evaluate(_frame(300, 1), _frame(300, 2), _frame(300, 3), seed=5).headline
    assert [first[i] for _, i in PAIRS] == [second[i] for _, i in PAIRS]


def test_two_holdout_rows_give_the_dcr_share_a_wide_interval():
    rng = np.random.default_rng(0)
    synthetic, train = rng.normal(size=(500, 3)), rng.normal(size=(2, 3))
    holdout = rng.normal(size=(2, 3))
    pair = (nearest_groups(synthetic, train), nearest_groups(synthetic, holdout))
    d_trn, d_hol = pair[0].distance[:, 0], pair[1].distance[:, 0]
    share = float(np.mean(d_trn < d_hol))
    low, high = dcr_share_interval([pair], share, np.random.default_rng(1))
    # 500 synthetic rows alone would give about +-0.045; four reference rows decide here.
    assert high - low > 0.3


def test_wilson_and_newcombe_intervals_handle_zero_and_full_counts():
    assert wilson(0, 50)[0] == 0.0 and 0.05 < wilson(0, 50)[1] < 0.09
    assert wilson(50, 50)[1] == 1.0
    low, high = newcombe(100, 100, 0, 40)
    assert 0.85 < low < high <= 1.0
    assert newcombe(5, 10, 0, 0) is None


def test_the_auc_interval_narrows_with_rows():
    small, large = auc_interval(0.6, 50, 50), auc_interval(0.6, 5000, 5000)
    assert small[0] < 0.6 < small[1]
    assert large[1] - large[0] < (small[1] - small[0]) / 5


def test_summary_line_gives_the_verdict_and_three_figures_with_intervals(headlines):
    line = summarize(headlines[2000])
    assert line.startswith("QA GOOD: accuracy ")
    assert line.count("95% CI") == 3
    assert "DCR share" in line and "discriminator AUC" in line and "vs ceiling" in line
    assert "\n" not in line
    long = summarize({"headline": headlines[2000]}, findings=True)
    assert long.splitlines()[0] == line and "  - Accuracy" in long


def test_summary_of_a_dataset_without_holdout_says_what_is_missing():
    headline = evaluate(_frame(300, 1), _frame(300, 2)).headline
    assert "DCR share n/a (needs a holdout)" in summarize(headline)


def test_evaluate_reports_progress_per_table():
    seen = []
    progress = Progress([lambda _, step: seen.append((step.name, step.completed, step.total))])
    evaluate(_frame(200, 1), _frame(200, 2), _frame(200, 3), progress=progress)
    assert seen[0] == ("QA report: evaluate tables", 0, 2)
    assert seen[-1][1:] == (2, 2)
    assert progress.steps[-1].status == "DONE"
