"""Schema import: a dbt manifest's sources, models and tests as generator config and expectations.

Teams already describe their tables in dbt. Its tests say what synthpipe needs to know: a column
that is ``unique`` and ``not_null`` is a primary key, a ``relationships`` test is a foreign key,
``accepted_values`` is a value set, and every test is also a validation expectation. What tests
cannot say (lookup tables, the context key, row order) comes from ``meta.synthpipe`` hints.

With ``scope="sources"`` (the default) the tables are the project's sources, the real tables a
generator trains on; tests on a model that selects from exactly one source (a staging model,
directly or through a chain of such models) apply to that source, column by column. With
``scope="models"`` every source, seed, snapshot and model is a table of its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from synthpipe.dbt.meta import ImportHints, parse_meta
from synthpipe.errors import ConfigError
from synthpipe.schema import (
    ColumnOverride,
    EncodingType,
    ForeignKey,
    GeneratorConfig,
    Table,
    validate_config,
)

Scope = Literal["sources", "models"]
TABLE_TYPES = {"model", "seed", "snapshot"}


@dataclass
class _Facts:
    """What the manifest says about one table, gathered before the Table is built."""

    name: str
    columns: dict[str, str | None] = field(default_factory=dict)  # name -> description
    unique: set[str] = field(default_factory=set)
    not_null: set[str] = field(default_factory=set)
    primary_key: list[str] | None = None  # from a primary_key constraint
    compound_unique: list[list[str]] = field(default_factory=list)
    value_sets: dict[str, list] = field(default_factory=dict)
    references: list[tuple[str, str, str]] = field(default_factory=list)  # col, table, field
    hints: ImportHints = field(default_factory=ImportHints)


@dataclass
class DbtImport:
    """The result of a schema import: tables, expectations, value sets and notes."""

    tables: list[Table]
    # Pipeline `validation.expectations`: {table: [{type, kwargs}]}.
    expectations: dict[str, list[dict]]
    # accepted_values tests: {table: {column: values}}.
    value_sets: dict[str, dict[str, list]]
    # What was skipped or still needs a decision, one line each.
    notes: list[str]

    def fragment(self) -> dict:
        """The pipeline-file blocks: ``generator.tables`` and ``validation.expectations``."""
        return {
            "generator": {"tables": [_dump_table(t) for t in self.tables]},
            "validation": {"expectations": self.expectations},
        }

    def to_yaml(self, source: str = "manifest") -> str:
        """The fragment as YAML, with the notes as comments on top."""
        import yaml

        head = [f"# synthpipe dbt import of {source}: paste into a pipeline file"]
        head += [f"# note: {n}" for n in self.notes]
        body = yaml.safe_dump(self.fragment(), sort_keys=False, allow_unicode=True)
        return "\n".join(head) + "\n" + body


def load_manifest(path: str | Path) -> dict:
    """A dbt ``manifest.json``, checked to be one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read a dbt manifest: {exc}; run `dbt parse` to write target/manifest.json",
            source=str(path),
        ) from None
    version = str(data.get("metadata", {}).get("dbt_schema_version", ""))
    if "/manifest/" not in version:
        raise ConfigError(
            "not a dbt manifest (metadata.dbt_schema_version is missing or names another "
            "artifact); pass target/manifest.json written by `dbt parse`",
            source=str(path),
        )
    return data


def import_manifest(manifest: str | Path | dict, *, scope: Scope = "sources") -> DbtImport:
    """Turn a dbt manifest into generator tables (keys, value sets) and validation expectations."""
    data = manifest if isinstance(manifest, dict) else load_manifest(manifest)
    nodes = {**data.get("sources", {}), **data.get("nodes", {})}
    notes: list[str] = []
    home = _homes(nodes, scope)
    facts = _collect_tables(nodes, home, notes)
    tests = [n for n in nodes.values() if n.get("resource_type") == "test"]
    for test in tests:
        _apply_test(test, nodes, home, facts, notes)
    notes += _unfolded_notes(tests, nodes, home)
    for node_id, node in nodes.items():
        if node_id in home:
            _apply_constraints(node, facts[home[node_id]])
    tables = _build_tables(facts, notes)
    notes += _config_notes(tables)
    return DbtImport(
        tables=tables,
        expectations=_expectations(facts),
        value_sets={f.name: f.value_sets for f in facts.values() if f.value_sets},
        notes=notes,
    )


# -- which table a node's facts belong to ----------------------------------------------------


def _table_name(node: dict) -> str:
    if node["resource_type"] == "source":
        return node.get("identifier") or node["name"]
    return node.get("alias") or node["name"]


def _parents(node: dict) -> list[str]:
    return list(dict.fromkeys(node.get("depends_on", {}).get("nodes", [])))


def _homes(nodes: dict, scope: Scope) -> dict[str, str]:
    """Node id -> id of the node whose table receives its facts (itself, or its one source)."""
    home = {}
    for node_id, node in nodes.items():
        kind = node.get("resource_type")
        if kind == "source":
            home[node_id] = node_id
        elif kind in TABLE_TYPES:
            target = node_id if scope == "models" else _single_source(node_id, nodes)
            if target is not None:
                home[node_id] = target
    return home


def _single_source(node_id: str, nodes: dict, seen: frozenset = frozenset()) -> str | None:
    """The one source a model selects from, through models that each have one parent."""
    node = nodes.get(node_id)
    if node is None or node_id in seen:
        return None
    if node["resource_type"] == "source":
        return node_id
    parents = _parents(node)
    if node["resource_type"] != "model" or len(parents) != 1:
        return None
    return _single_source(parents[0], nodes, seen | {node_id})


def _collect_tables(nodes: dict, home: dict, notes: list[str]) -> dict[str, _Facts]:
    """One _Facts per home node, holding the columns and hints of every node folded onto it."""
    facts = _new_tables(nodes, home, notes)
    for node_id in [n for n, target in home.items() if target not in facts]:
        del home[node_id]  # a duplicate table name: its nodes have no table to go to
    for node_id, target in home.items():
        _add_node(facts[target], nodes[node_id], folded=node_id != target, notes=notes)
    return facts


def _new_tables(nodes: dict, home: dict, notes: list[str]) -> dict[str, _Facts]:
    facts: dict[str, _Facts] = {}
    names: dict[str, str] = {}
    for node_id in sorted(set(home.values()), key=list(nodes).index):
        name = _table_name(nodes[node_id])
        if name in names:
            notes.append(f"{node_id} is a second table named '{name}' (as {names[name]}); skipped")
            continue
        names[name] = node_id
        facts[node_id] = _Facts(name=name, hints=_hints(nodes[node_id], notes))
    return facts


def _add_node(table: _Facts, node: dict, *, folded: bool, notes: list[str]) -> None:
    """A node's documented columns (first description wins) and, if folded, its hints."""
    for column in node.get("columns", {}).values():
        known = table.columns.get(column["name"])
        table.columns[column["name"]] = known or column.get("description") or None
    if folded:
        table.hints = _merge_hints(table.hints, _hints(node, notes))


def _unfolded_notes(tests: list[dict], nodes: dict, home: dict) -> list[str]:
    """Models whose tests were left out because they select from more than one table."""
    skipped = {
        target
        for target in (_test_target(t, nodes) for t in tests)
        if target in nodes
        and target not in home
        and nodes[target].get("resource_type") in TABLE_TYPES
    }
    if not skipped:
        return []
    names = ", ".join(sorted(nodes[s]["name"] for s in skipped))
    return [
        f"tests of {names} not imported: these models select from several tables, so their "
        "columns are no source's; use scope 'models' (--scope models) to import them as tables"
    ]


def _hints(node: dict, notes: list[str]) -> ImportHints:
    meta = node.get("meta") or node.get("config", {}).get("meta") or {}
    try:
        block = {
            k: v for k, v in (meta.get("synthpipe") or {}).items() if k in ImportHints.model_fields
        }
        return parse_meta({"synthpipe": block}, ImportHints, node["unique_id"])
    except ConfigError as exc:
        notes.append(f"ignored the synthpipe hints of {node['unique_id']}: {exc}")
        return ImportHints()


def _merge_hints(base: ImportHints, extra: ImportHints) -> ImportHints:
    return base.model_copy(update=extra.model_dump(exclude_none=True))


# -- tests and constraints ------------------------------------------------------------------


def _test_target(test: dict, nodes: dict) -> str | None:
    attached = test.get("attached_node")
    if attached:
        return attached
    parents = [p for p in _parents(test) if p in nodes]
    return parents[-1] if parents else None


def _apply_test(test: dict, nodes: dict, home: dict, facts: dict, notes: list[str]) -> None:
    meta = test.get("test_metadata") or {}
    name, kwargs = meta.get("name"), meta.get("kwargs") or {}
    target = _test_target(test, nodes)
    if not name or target not in home or not test.get("config", {}).get("enabled", True):
        return
    if test.get("config", {}).get("where"):
        notes.append(f"{test['unique_id']} has a `where` filter; a conditional test is not a key")
        return
    column = test.get("column_name") or kwargs.get("column_name")
    table = facts[home[target]]
    if column:
        table.columns.setdefault(column, None)
    if name == "unique" and column:
        table.unique.add(column)
    elif name == "not_null" and column:
        table.not_null.add(column)
    elif name == "accepted_values" and column:
        table.value_sets[column] = list(kwargs.get("values") or [])
    elif name == "relationships" and column:
        _apply_relationship(test, target, column, kwargs, nodes, home, facts, notes)
    elif name == "unique_combination_of_columns":
        table.compound_unique.append(list(kwargs.get("combination_of_columns") or []))


def _apply_relationship(test, target, column, kwargs, nodes, home, facts, notes) -> None:
    parents = [p for p in _parents(test) if p != target and p in nodes]
    parent = parents[0] if parents else None
    if parent not in home:
        notes.append(
            f"{test['unique_id']}: the referenced node {parent or '?'} is not a table in "
            "this import; foreign key skipped"
        )
        return
    field_name = kwargs.get("field") or column
    facts[home[target]].references.append((column, facts[home[parent]].name, field_name))


def _apply_constraints(node: dict, table: _Facts) -> None:
    """dbt model contracts: primary_key, unique and not_null constraints."""
    for constraint in node.get("constraints") or []:
        if constraint.get("type") == "primary_key" and constraint.get("columns"):
            table.primary_key = list(constraint["columns"])
    for column in (node.get("columns") or {}).values():
        for constraint in column.get("constraints") or []:
            kind = constraint.get("type")
            if kind == "primary_key":
                table.primary_key = [column["name"]]
            elif kind == "unique":
                table.unique.add(column["name"])
            elif kind == "not_null":
                table.not_null.add(column["name"])


# -- building tables and expectations --------------------------------------------------------


def _primary_key(table: _Facts, referenced: set[str]) -> list[str] | None:
    if table.primary_key:
        return table.primary_key
    candidates = [c for c in table.columns if c in table.unique and c in table.not_null]
    candidates += sorted(c for c in table.unique & table.not_null if c not in candidates)
    if candidates:
        preferred = [c for c in candidates if c in referenced]
        return [(preferred or candidates)[0]]
    for combination in table.compound_unique:
        if combination and all(c in table.not_null for c in combination):
            return combination
    return None


def _build_tables(facts: dict[str, _Facts], notes: list[str]) -> list[Table]:
    by_name = {f.name: f for f in facts.values()}
    referenced: dict[str, set[str]] = {}
    for table in facts.values():
        for _, parent, field_name in table.references:
            referenced.setdefault(parent, set()).add(field_name)
    keys = {f.name: _primary_key(f, referenced.get(f.name, set())) for f in facts.values()}
    for name, fields in referenced.items():
        if keys.get(name) is None and len(fields) == 1 and name in by_name:
            keys[name] = sorted(fields)
            notes.append(
                f"table '{name}' has no unique + not_null column; its primary key "
                f"{keys[name][0]} is the column its relationships tests reference"
            )
    return [_table(f, keys, notes) for f in facts.values()]


def _foreign_keys(table: _Facts, keys: dict, notes: list[str]) -> list[ForeignKey]:
    fks, seen = [], set()
    for column, parent, field_name in table.references:
        if (column, parent) in seen:
            continue
        seen.add((column, parent))
        target = None if keys.get(parent) == [field_name] else [field_name]
        fks.append(
            ForeignKey(
                columns=[column],
                referenced_table=parent,
                referenced_columns=target,
                is_context=table.hints.context == column,
            )
        )
    if table.hints.context and not any(fk.is_context for fk in fks):
        notes.append(
            f"table '{table.name}': context column '{table.hints.context}' has no "
            "relationships test; add one so the context key has a parent"
        )
    return fks


def _table(table: _Facts, keys: dict, notes: list[str]) -> Table:
    overrides = {}
    for column, description in table.columns.items():
        encoding = EncodingType.TABULAR_CATEGORICAL if column in table.value_sets else None
        if description or encoding:
            overrides[column] = ColumnOverride(description=description, encoding=encoding)
    return Table(
        name=table.name,
        primary_key=keys.get(table.name),
        foreign_keys=_foreign_keys(table, keys, notes),
        original_data=bool(table.hints.original_data),
        order_by=table.hints.order_by,
        column_overrides=overrides,
    )


def _expectations(facts: dict[str, _Facts]) -> dict[str, list[dict]]:
    result = {}
    for table in facts.values():
        found = []
        for column in table.columns:
            if column in table.not_null:
                found.append(_expect("expect_column_values_to_not_be_null", column=column))
            if column in table.unique:
                found.append(_expect("expect_column_values_to_be_unique", column=column))
            if column in table.value_sets:
                found.append(
                    _expect(
                        "expect_column_values_to_be_in_set",
                        column=column,
                        value_set=table.value_sets[column],
                    )
                )
        for combination in table.compound_unique:
            found.append(_expect("expect_compound_columns_to_be_unique", column_list=combination))
        if found:
            result[table.name] = found
    return result


def _expect(kind: str, **kwargs: Any) -> dict:
    return {"type": kind, "kwargs": kwargs}


def _config_notes(tables: list[Table]) -> list[str]:
    """The rules the imported tables still break as a generator (e.g. several root tables)."""
    if not tables:
        return ["the manifest has no sources (or models, with scope 'models') to import"]
    return validate_config(GeneratorConfig(tables=tables))


def _dump_table(table: Table) -> dict:
    """A table as a pipeline file spells it: defaults left out, one-column lists as a name."""
    data = table.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    for key in ("primary_key", "order_by"):
        if isinstance(data.get(key), list) and len(data[key]) == 1:
            data[key] = data[key][0]
    for fk in data.get("foreign_keys", []):
        for key in ("column", "referenced_column"):
            if isinstance(fk.get(key), list) and len(fk[key]) == 1:
                fk[key] = fk[key][0]
    return data
