"""A small relational source for the daily-use tests: customers -> orders, a countries lookup.

Written as parquet files in a folder (the files connector), with a pipeline file beside it, so
these tests do not depend on how the shipped demo is modelled.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

CUSTOMERS = 60


def write_source(folder: Path) -> Path:
    """customers (root, 60 rows), orders (0-4 per customer) and countries (lookup)."""
    folder.mkdir(parents=True, exist_ok=True)
    countries = ["AT", "DE", "FR", "IT"]
    pq.write_table(
        pa.table({"code": countries, "label": ["Austria", "Germany", "France", "Italy"]}),
        folder / "countries.parquet",
    )
    ids = list(range(1, CUSTOMERS + 1))
    pq.write_table(
        pa.table(
            {
                "customer_id": ids,
                "age": [20 + (i * 7) % 50 for i in ids],
                "fnlwgt": [100_000 + i * 137 for i in ids],
                "country": [countries[i % 4] for i in ids],
            }
        ),
        folder / "customers.parquet",
    )
    owners = [i for i in ids for _ in range(i % 5)]
    pq.write_table(
        pa.table(
            {
                "order_id": list(range(1, len(owners) + 1)),
                "customer_id": owners,
                "amount": [float(10 + (n * 13) % 90) for n in range(len(owners))],
            }
        ),
        folder / "orders.parquet",
    )
    return folder


def tables(**customers) -> list[dict]:
    """The generator's table settings; ``customers`` adds settings to the customers table."""
    return [
        {
            "name": "customers",
            "primary_key": "customer_id",
            "foreign_keys": [{"column": "country", "referenced_table": "countries"}],
            **customers,
        },
        {
            "name": "orders",
            "primary_key": "order_id",
            "foreign_keys": [
                {"column": "customer_id", "referenced_table": "customers", "is_context": True}
            ],
        },
        {"name": "countries", "primary_key": "code", "original_data": True},
    ]


def write_pipeline(folder: Path, name: str = "shop", *, customers: dict | None = None, **sections):
    """A pipeline file on ``write_source(folder / 'data')``; sections replace the defaults."""
    data = write_source(folder / "data")
    doc = {
        "name": name,
        "source": {"connector": "files", "options": {"path": str(data)}},
        "generator": {"generator": "independent", "tables": tables(**(customers or {}))},
        "validation": {"enabled": False},
        **sections,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
