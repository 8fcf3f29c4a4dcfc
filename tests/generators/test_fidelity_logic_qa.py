"""The QA report lists the relationships the real rows hold, with their share in the real and
the synthetic rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthpipe.qa import evaluate
from synthpipe.schema import ForeignKey, GeneratorConfig, Table

ROWS = 2000


@pytest.fixture(scope="module")
def orders():
    rng = np.random.default_rng(0)
    ordered = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 500, 300), "D")
    orders = pd.DataFrame({"order_id": np.arange(300), "ordered": ordered})
    owner = rng.integers(0, 300, ROWS)
    price = rng.integers(1, 100, ROWS)
    quantity = rng.integers(1, 10, ROWS)
    shipped = orders.ordered.to_numpy()[owner] + pd.to_timedelta(rng.integers(0, 20, ROWS), "D")
    lines = pd.DataFrame(
        {
            "line_id": np.arange(ROWS),
            "order_id": owner,
            "price": price,
            "quantity": quantity,
            "total": price * quantity,
            "shipped": shipped,
        }
    )
    config = GeneratorConfig(
        tables=[
            Table(name="orders", primary_key=["order_id"]),
            Table(
                name="lines",
                primary_key=["line_id"],
                foreign_keys=[ForeignKey(column="order_id", referenced_table="orders")],
            ),
        ]
    )
    return {"orders": orders, "lines": lines}, config


def broken(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The same rows with the total and the ship date drawn independently of the rest."""
    rng = np.random.default_rng(1)
    lines = tables["lines"].copy()
    lines["total"] = rng.permutation(lines["total"].to_numpy())
    lines["shipped"] = rng.permutation(lines["shipped"].to_numpy())
    return {"orders": tables["orders"], "lines": lines}


def shares(result, table: str = "lines") -> dict[str, tuple]:
    return {
        r["rule"]: (r["real_share"], r["synthetic_share"])
        for r in result.metrics["tables"][table]["relational"]["relationships"]
    }


def test_relationships_held_by_synthetic_rows_are_reported_as_held(orders):
    tables, config = orders
    found = shares(evaluate(tables, tables, config=config))
    assert found["total = price * quantity"] == (1.0, 1.0)
    assert found["shipped >= orders.ordered"] == (1.0, 1.0)


def test_broken_relationships_show_their_synthetic_share(orders, tmp_path):
    tables, config = orders
    result = evaluate(tables, broken(tables), config=config)
    found = shares(result)
    assert found["total = price * quantity"][1] < 0.2
    assert found["shipped >= orders.ordered"][1] < 0.8
    html, _ = result.save(tmp_path)
    page = html.read_text()
    assert "Relationships" in page and "total = price * quantity" in page
