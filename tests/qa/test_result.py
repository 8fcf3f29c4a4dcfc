"""The metrics JSON: its documented shape, a lossless round trip and version checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthpipe.errors import ArtifactError
from synthpipe.qa import SCHEMA_VERSION, QAResult, evaluate, load_metrics
from synthpipe.qa.result import json_safe

HEADLINE_KEYS = {
    "accuracy",
    "ceiling",
    "ceiling_method",
    "dcr_share",
    "identical_match_share_train",
    "identical_match_share_holdout",
    "discriminator_auc",
    "referential_integrity",
    "pk_uniqueness",
    "children_per_parent_accuracy",
    "columns_not_compared",
    "verdict",
    # intervals and the holdout-referenced identical matches (added in the same version)
    "confidence",
    "accuracy_interval",
    "accuracy_noise_gap",
    "dcr_share_interval",
    "identical_match_share_train_interval",
    "identical_match_share_holdout_interval",
    "train_match_share_synthetic",
    "train_match_share_synthetic_interval",
    "train_match_share_holdout",
    "train_match_share_holdout_interval",
    "train_match_excess",
    "train_match_excess_interval",
    "discriminator_auc_interval",
}
TABLE_KEYS = {
    "rows",
    "original_data",
    "relational",
    "accuracy",
    "privacy",
    "similarity",
    "verdict",
}


@pytest.fixture(scope="module")
def result() -> QAResult:
    rng = np.random.default_rng(0)

    def frame(n):
        return pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y"], n)})

    return evaluate(frame(300), frame(300), frame(300), timings={"train_s": 1.5})


def test_metrics_follow_the_documented_schema(result):
    metrics = result.metrics
    assert metrics["schema_version"] == SCHEMA_VERSION
    assert set(metrics["headline"]) == HEADLINE_KEYS
    assert set(metrics["headline"]["verdict"]) == {"level", "summary", "findings", "parts"}
    assert set(metrics["tables"]["table"]) >= TABLE_KEYS
    assert metrics["timings"]["train_s"] == 1.5
    assert metrics["timings"]["qa"]["total"] > 0


def test_metrics_round_trip_through_json_unchanged(result, tmp_path):
    path = result.write_json(tmp_path / "m.json")
    assert load_metrics(path) == result.metrics
    assert json.loads(path.read_text()) == result.metrics


def test_a_directory_target_gets_the_standard_file_names(result, tmp_path):
    html, metrics = result.save(tmp_path / "dataset")
    assert html.name == "qa_report.html" and metrics.name == "qa_metrics.json"
    assert load_metrics(tmp_path / "dataset")["schema_version"] == SCHEMA_VERSION


def test_metrics_of_an_unknown_schema_version_are_refused(result, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({**result.metrics, "schema_version": 999}))
    with pytest.raises(ArtifactError, match="schema_version 999"):
        load_metrics(path)


def test_numpy_values_and_nan_become_plain_json():
    assert json_safe({"a": np.float64(0.1234567891), "b": float("nan"), "c": [np.int64(3)]}) == {
        "a": 0.123457,
        "b": None,
        "c": [3],
    }
