"""Relational data: key checks, children per parent, context pairs and sequence coherence.

The dataset is a tiny hand-made users/orders pair whose answers can be counted by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpipe.qa import evaluate
from synthpipe.schema import GeneratorConfig

CONFIG = GeneratorConfig(
    tables=[
        {"name": "users", "primary_key": "id"},
        {
            "name": "orders",
            "primary_key": "order_id",
            "order_by": "day",
            "foreign_keys": [
                {"column": "user_id", "referenced_table": "users", "is_context": True}
            ],
        },
    ]
)


def _dataset(children: list[int], seed: int = 0) -> dict[str, pd.DataFrame]:
    """Users 1..n with ``children[i]`` orders each; orders alternate status within a user."""
    rng = np.random.default_rng(seed)
    n = len(children)
    users = pd.DataFrame({"id": np.arange(1, n + 1), "country": rng.choice(["AT", "DE"], n)})
    user_id = np.repeat(users["id"].to_numpy(), children)
    day = np.concatenate([np.arange(k) for k in children]).astype(int)
    orders = pd.DataFrame(
        {
            "order_id": np.arange(len(user_id)),
            "user_id": user_id,
            "day": day,
            "status": np.where(day % 2 == 0, "new", "paid"),
            "amount": rng.gamma(2.0, 10.0, len(user_id)).round(2),
        }
    )
    return {"users": users, "orders": orders}


def _orders(train, synthetic, holdout=None) -> dict:
    return evaluate(train, synthetic, holdout, config=CONFIG).metrics["tables"]["orders"]


def test_orphaned_foreign_keys_lower_referential_integrity():
    train = _dataset([2, 1, 0, 3])
    synthetic = _dataset([2, 1, 0, 3])
    synthetic["orders"].loc[0, "user_id"] = 99  # one of six orders points nowhere
    relational = _orders(train, synthetic)["relational"]
    assert relational["referential_integrity"] == pytest.approx(5 / 6)
    assert relational["referential_integrity_by_key"] == {
        "user_id → users.id": pytest.approx(5 / 6)
    }


def test_duplicate_primary_keys_lower_pk_uniqueness():
    train = _dataset([1, 1, 1, 1])
    synthetic = _dataset([1, 1, 1, 1])
    synthetic["users"]["id"] = [1, 2, 2, 3]
    users = evaluate(train, synthetic, config=CONFIG).metrics["tables"]["users"]
    assert users["relational"]["pk_uniqueness"] == pytest.approx(0.5)


def test_children_per_parent_accuracy_compares_counts_including_zeros():
    train = _dataset([2, 1, 0, 3])  # one parent each with 0, 1, 2 and 3 children
    same = _orders(train, _dataset([3, 0, 1, 2]))["relational"]
    assert same["children_per_parent_accuracy"] == pytest.approx(1.0)
    childless = _dataset([0, 0, 0, 0])
    childless["orders"] = _dataset([1])["orders"].iloc[:0]
    none = evaluate(train, childless, config=CONFIG).metrics["tables"]["orders"]["relational"]
    assert none["children_per_parent_accuracy"] == pytest.approx(0.25)


def test_child_columns_are_paired_with_parent_columns():
    data = _dataset([3, 2, 4, 1] * 10)
    pairs = _orders(data, data)["accuracy"]["pairs"]
    context = [p["columns"] for p in pairs if p["kind"] == "context"]
    assert ["status", "users.country"] in context


def test_a_faithful_copy_of_sequences_keeps_every_sequence_level_measure():
    data = _dataset([3, 2, 4, 1, 5] * 20)
    accuracy = _orders(data, {k: v.copy() for k, v in data.items()})["accuracy"]
    details = accuracy["coherence_details"]
    for family in ("distinct_per_sequence", "sequences_per_value"):
        assert [s["accuracy"] for s in details[family]] == pytest.approx([1.0] * 3)
    # Row-level measures look at one random row per sequence, so they reach the ceiling only
    # up to that sampling noise.
    assert accuracy["overall"] >= accuracy["ceiling"]["overall"] - 0.03


def test_shuffled_sequence_order_lowers_next_row_coherence():
    data = _dataset([6] * 100)
    shuffled = {k: v.copy() for k, v in data.items()}
    rng = np.random.default_rng(1)
    shuffled["orders"]["status"] = rng.permutation(shuffled["orders"]["status"].to_numpy())
    coherence = _orders(data, shuffled)["accuracy"]["coherence_details"]["next_row"]
    status = next(s for s in coherence if s["columns"][0] == "status")
    assert status["accuracy"] < 0.8


def test_sequence_length_is_measured_as_a_column():
    data = _dataset([3, 2, 4, 1] * 10)
    columns = [c["column"] for c in _orders(data, data)["accuracy"]["columns"]]
    assert "(sequence length)" in columns


def test_original_data_tables_are_checked_for_keys_but_not_learned():
    config = GeneratorConfig(
        tables=[
            {"name": "users", "primary_key": "id", "original_data": True},
            {
                "name": "orders",
                "primary_key": "order_id",
                "foreign_keys": [{"column": "user_id", "referenced_table": "users"}],
            },
        ]
    )
    data = _dataset([2, 1, 3])
    synthetic = {"orders": data["orders"].copy()}
    metrics = evaluate(data, synthetic, config=config).metrics["tables"]
    assert "accuracy" not in metrics["users"]
    assert metrics["orders"]["relational"]["referential_integrity"] == 1.0
