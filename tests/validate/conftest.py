"""Trained generators for the validation tests, and a way to corrupt a dataset's parts.

Two generators are trained once per session: the demo pipeline with the fast ``independent``
baseline (plots -> surveys, species lookup), and a hand-made shop (customers -> orders ->
order_lines with a compound primary key, a products lookup, a fake and a dropped column) with
``fidelity``, since the baseline refuses keys that span several columns.
Each test generates its own small dataset, so corrupting its parts never leaks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")

# plots -> surveys sequences, sized by plots (see tests/fixtures/ratdat_sequences.yaml).
DEMO_PIPELINE = Path(__file__).resolve().parents[1] / "fixtures" / "ratdat_sequences.yaml"

SHOP_TABLES = [
    {"name": "customers", "primary_key": "customer_id",
     "column_overrides": {"email": {"sensitive": "fake"}, "notes": {"sensitive": "drop"}}},
    {"name": "orders", "primary_key": "order_id",
     "foreign_keys": [{"column": "customer_id", "referenced_table": "customers",
                       "is_context": True}]},
    {"name": "order_lines", "primary_key": ["order_id", "line_no"],
     "foreign_keys": [
         {"column": "order_id", "referenced_table": "orders", "is_context": True},
         {"column": "product_id", "referenced_table": "products"}]},
    {"name": "products", "primary_key": "product_id", "original_data": True},
]  # fmt: skip


def _write_shop(folder: Path) -> None:
    """Real-looking shop tables: every Arrow type validation distinguishes, rare categories."""
    from datetime import date, datetime, timedelta
    from decimal import Decimal

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    folder.mkdir(parents=True)
    n = 300
    segments = rng.choice(["retail", "business", "public", "student"], n).tolist()
    segments[:2] = ["vip", "vip"]  # rare: replaced by _RARE_ under value protection
    scores = [None if i % 17 == 0 else float(rng.normal(50, 10)) for i in range(n)]
    customers = pa.table(
        {
            "customer_id": pa.array(range(1, n + 1), pa.int64()),
            "segment": segments,
            "signup": pa.array([date(2020, 1, 1) + timedelta(int(d))
                                for d in rng.integers(0, 900, n)]),
            "score": pa.array(scores, pa.float64()),
            "active": pa.array(rng.random(n) < 0.7),
            "balance": rng.normal(1000, 300, n),
            # NaN is a value in Arrow, not a null; GX on pandas counts it as missing.
            "ratio": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
            "email": [f"c{i}@example.com" for i in range(n)],
            "notes": ["secret"] * n,
        }
    )  # fmt: skip
    per_customer = rng.integers(0, 5, n)
    owners = np.repeat(np.arange(1, n + 1), per_customer)
    m = len(owners)
    orders = pa.table(
        {
            "order_id": [f"ORD-{i:05d}" for i in range(1, m + 1)],
            "customer_id": pa.array(owners, pa.int64()),
            "status": rng.choice(["paid", "shipped", "returned"], m).tolist(),
            "amount": pa.array([Decimal(f"{x:.2f}") for x in rng.uniform(5, 500, m)],
                               pa.decimal128(10, 2)),
            "ordered_at": pa.array([datetime(2021, 1, 1) + timedelta(minutes=int(x))
                                    for x in rng.integers(0, 10**6, m)], pa.timestamp("us")),
        }
    )  # fmt: skip
    lines = rng.integers(1, 4, m)
    products = pa.table(
        {
            "product_id": [f"P{i:02d}" for i in range(1, 21)],
            "name": [f"product {i}" for i in range(1, 21)],
            "price": pa.array(rng.uniform(1, 100, 20)),
        }
    )
    order_lines = pa.table(
        {
            "order_id": np.repeat(orders.column("order_id").to_numpy(zero_copy_only=False), lines),
            "line_no": pa.array(np.concatenate([np.arange(1, k + 1) for k in lines]), pa.int32()),
            "product_id": rng.choice(products.column("product_id").to_pylist(), lines.sum()),
            "quantity": pa.array(rng.integers(1, 10, lines.sum()), pa.int32()),
        }
    )  # fmt: skip
    for name, table in [("customers", customers), ("orders", orders),
                        ("order_lines", order_lines), ("products", products)]:  # fmt: skip
        pq.write_table(table, folder / f"{name}.parquet")


@pytest.fixture(scope="session")
def store_home(tmp_path_factory) -> Path:
    """A session-wide artifact store holding the two trained generators."""
    from synthpipe import api

    home = tmp_path_factory.mktemp("validate-home")
    api.train(DEMO_PIPELINE, generator="independent", name="demo", home=home)
    source = tmp_path_factory.mktemp("shop-source") / "shop"
    _write_shop(source)
    api.train(
        source={"connector": "files", "options": {"path": str(source)}},
        tables=SHOP_TABLES,
        generator="fidelity",
        name="shop",
        home=home,
    )
    return home


@pytest.fixture
def generate(store_home) -> Callable:
    """Generate a fresh dataset of generator ``demo`` or ``shop``; returns its record."""
    from synthpipe import api

    def make(generator: str = "demo", **spec):
        spec.setdefault("sizes", {"plots": 12} if generator == "demo" else {})
        return api.generate(generator, home=store_home, **spec)

    return make


@pytest.fixture
def corrupt(store_home) -> Callable:
    """Rewrite one parquet part of a dataset's table through ``change(arrow_table)``."""
    import pyarrow.parquet as pq

    from synthpipe.store import Store

    def rewrite(dataset, table: str, change: Callable, part: int = 0) -> None:
        folder = Store(store_home).dataset_dir(dataset.id)
        path = folder / dataset.tables[table]["parts"][part]
        pq.write_table(change(pq.read_table(path)), path)

    return rewrite


@pytest.fixture
def validate(store_home) -> Callable:
    """Validate a dataset of the session store, not persisting unless asked."""
    from synthpipe.validate import validate_dataset

    def run(dataset, persist: bool = False, **kwargs):
        return validate_dataset(dataset.id, home=store_home, persist=persist, **kwargs)

    return run


def _failed(result, table: str, expectation: str, column: str | None = None) -> list[dict]:
    return [
        e
        for e in result.tables[table]
        if not e["success"]
        and e["expectation"] == expectation
        and (column is None or e["column"] == column)
    ]


@pytest.fixture
def failed() -> Callable:
    """``failed(result, table, expectation, column=None)``: the matching failed entries."""
    return _failed
