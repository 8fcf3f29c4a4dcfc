"""Sensitive columns: never learned; filled with realistic fake values after sampling.

A column marked ``sensitive: fake`` is removed before training and, after sampling, filled by
Faker (seeded per table, partition and batch, so generation stays deterministic). A column
marked ``sensitive: drop`` is removed and never appears in the output.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from synthpipe.errors import ConfigError
from synthpipe.schema import Column, LogicalType, Table

if TYPE_CHECKING:
    import pyarrow as pa

# Faker providers guessed from column names, first match wins.
NAME_HINTS = (
    ("email", "email"),
    ("mail", "email"),
    ("phone", "phone_number"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("surname", "last_name"),
    ("name", "name"),
    ("street", "street_address"),
    ("address", "address"),
    ("city", "city"),
    ("zip", "postcode"),
    ("postcode", "postcode"),
    ("country", "country"),
    ("iban", "iban"),
    ("ssn", "ssn"),
    ("company", "company"),
    ("url", "url"),
    ("ip", "ipv4"),
    ("user", "user_name"),
    ("birth", "date_of_birth"),
    ("date", "date_object"),
)
TYPE_DEFAULTS = {
    LogicalType.INTEGER: "random_int",
    LogicalType.FLOAT: "pyfloat",
    LogicalType.DATE: "date_object",
    LogicalType.DATETIME: "date_time",
    LogicalType.BOOLEAN: "pybool",
    LogicalType.TEXT: "sentence",
}


def provider_for(column: Column) -> str:
    """The Faker provider for a column: its `faker` setting, else guessed from name and type."""
    if column.faker:
        return column.faker
    if column.type in (LogicalType.STRING, LogicalType.CATEGORICAL, LogicalType.TEXT):
        lowered = column.name.lower()
        for hint, provider in NAME_HINTS:
            if hint in lowered and provider != "date_object":
                return provider
    return TYPE_DEFAULTS.get(column.type, "pystr")


def fake_values(column: Column, n: int, seed: int) -> list:
    """``n`` fake values for a column, the same for the same seed."""
    from faker import Faker

    faker = Faker()
    faker.seed_instance(seed)
    provider = provider_for(column)
    try:
        make = getattr(faker, provider)
    except AttributeError:
        raise ConfigError(
            f"column '{column.name}': Faker has no provider '{provider}'; set "
            "`faker` to one such as email, name, address or phone_number"
        ) from None
    return [make() for _ in range(n)]


def add_fake_columns(
    batch: pa.RecordBatch, table: Table | None, *, seed: int, partition: int, batch_no: int
) -> pa.RecordBatch:
    """Insert the table's fake columns at their original positions."""
    import pyarrow as pa

    from synthpipe.types import arrow_type

    fakes = [c for c in (table.columns or []) if c.sensitive == "fake"] if table else []
    if not fakes:
        return batch
    arrays = dict(zip(batch.schema.names, batch.columns, strict=True))
    for column in fakes:
        key = f"{seed}/{table.name}/{column.name}/{partition}/{batch_no}".encode()
        values = fake_values(column, batch.num_rows, zlib.crc32(key))
        arrays[column.name] = pa.array(values).cast(arrow_type(column))
    names = [c.name for c in table.columns if c.sensitive != "drop" and c.name in arrays]
    return pa.RecordBatch.from_arrays([arrays[n] for n in names], names=names)
