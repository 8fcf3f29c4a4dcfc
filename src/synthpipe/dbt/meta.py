"""The ``meta: {synthpipe: {...}}`` vocabulary of dbt sources and models.

dbt >= 1.10 wants custom keys under ``meta`` (or ``config.meta``), so everything synthpipe reads
from a dbt project lives in one ``synthpipe`` block: on a source, which generator materialises
it; on an external model, where ``store()`` delivers it; on either, hints the schema import
cannot read from dbt tests (lookup tables, context keys, row order). Blocks are validated like
every synthpipe setting (unknown keys are errors) and problems name the dbt node and the fix.
"""

from __future__ import annotations

from pydantic import ValidationError

from synthpipe.errors import ConfigError
from synthpipe.schema import Model, Names

META_KEY = "synthpipe"


class ImportHints(Model):
    """What dbt tests cannot say about a table; read by ``synthpipe dbt import``."""

    # A lookup table: copied verbatim into every dataset, not learned.
    original_data: bool | None = None
    # The column whose relationships test is the context key (rows generated per parent).
    context: str | None = None
    # The column(s) ordering the rows of a child table within its parent.
    order_by: Names | None = None


class SourceMeta(ImportHints):
    """A source table whose rows a synthpipe generator produces (dbt-duckdb plugin)."""

    # Generator name or id in the store, or a path to an exported generator file or to a
    # pipeline file (relative paths are resolved against the dbt project directory).
    generator: str | None = None
    # Rows of the generator's root table (children follow), or rows per table.
    size: int | dict[str, int] | None = None
    # Seed of the generated dataset: same generator, size and seed, same rows and keys.
    seed: int = 0
    # The generator's table this source gets; defaults to the source table's identifier.
    table: str | None = None


class ModelMeta(ImportHints):
    """An external model that the plugin's ``store()`` delivers through a synthpipe connector."""

    # Name of a destination in the plugin's profile config (`destinations`).
    destination: str | None = None
    # Schema, folder or prefix at the destination; None uses the connector's default.
    location: str | None = None
    # Target table name; defaults to the model's identifier.
    table: str | None = None


def _check_sizes(meta: SourceMeta) -> list[str]:
    sizes = meta.size if isinstance(meta.size, dict) else {"(root)": meta.size}
    return [
        f"size{'' if table == '(root)' else '.' + table} is {rows}; give a row count of 0 or more"
        for table, rows in sizes.items()
        if rows is not None and rows < 0
    ]


def parse_meta(meta: dict, cls: type[ImportHints], where: str) -> ImportHints:
    """The ``synthpipe`` block of a node's meta as ``cls``; errors name ``where`` and the fix."""
    block = (meta or {}).get(META_KEY) or {}
    keys = [k for k in cls.model_fields if k not in ImportHints.model_fields]
    keys += list(ImportHints.model_fields)
    fix = f"fix the `meta: {{{META_KEY}: ...}}` block of {where} (keys: {', '.join(keys)})"
    if not isinstance(block, dict):
        raise ConfigError(
            f"meta.{META_KEY} is {type(block).__name__}, not a mapping; {fix}", source=where
        )
    try:
        parsed = cls.model_validate(block)
    except ValidationError as exc:
        problems = [
            f"meta.{META_KEY}.{'.'.join(map(str, e['loc']))}: {e['msg']}; {fix}"
            for e in exc.errors()
        ]
        raise ConfigError(problems, source=where) from None
    problems = _check_sizes(parsed) if isinstance(parsed, SourceMeta) else []
    if problems:
        raise ConfigError([f"meta.{META_KEY}.{p}; {fix}" for p in problems], source=where)
    return parsed
