"""Schema import: dbt sources, models and tests as generator tables and expectations."""

from __future__ import annotations

import json

import pytest

import synthpipe
from synthpipe.dbt import import_manifest
from synthpipe.errors import ConfigError
from synthpipe.pipeline import parse_pipeline
from synthpipe.schema import GeneratorConfig, validate_config


@pytest.fixture(scope="module")
def imported(built):
    project, _ = built
    return import_manifest(project.root / "target" / "manifest.json")


def _table(result, name):
    return next(t for t in result.tables if t.name == name)


def test_import_yields_the_primary_keys_the_tests_declare(imported):
    keys = {t.name: t.primary_key for t in imported.tables}
    assert keys == {"plots": ["plot_id"], "surveys": ["record_id"], "species": ["species_id"]}


def test_import_yields_the_foreign_keys_of_relationships_tests(imported):
    fks = {(fk.columns[0], fk.referenced_table) for fk in _table(imported, "surveys").foreign_keys}
    assert fks == {("plot_id", "plots"), ("species_id", "species")}


def test_import_yields_the_value_sets_of_accepted_values_tests(imported):
    assert imported.value_sets == {
        "plots": {
            "plot_type": [
                "Control",
                "Long-term Krat Exclosure",
                "Rodent Exclosure",
                "Short-term Krat Exclosure",
                "Spectab exclosure",
            ]
        },
        "surveys": {"sex": ["M", "F"]},
        "species": {"taxa": ["Bird", "Rabbit", "Reptile", "Rodent"]},
    }


def test_value_set_columns_are_modelled_as_categories(imported):
    override = _table(imported, "plots").column_overrides["plot_type"]
    assert override.encoding == "TABULAR_CATEGORICAL"


def test_meta_hints_mark_the_context_key_the_order_and_the_lookup_table(imported):
    surveys = _table(imported, "surveys")
    assert surveys.context_key.columns == ["plot_id"]
    assert surveys.order_by == ["survey_date"]
    assert _table(imported, "species").original_data is True


def test_column_descriptions_are_kept(imported):
    override = _table(imported, "surveys").column_overrides["weight"]
    assert override.description == "Weight in grams."


def test_imported_tables_form_a_valid_generator(imported):
    assert validate_config(GeneratorConfig(tables=imported.tables)) == []


def test_expectations_follow_the_tests(imported):
    plots = imported.expectations["plots"]
    assert {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "plot_id"}} in plots
    assert {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "plot_id"}} in plots
    in_set = [e for e in plots if e["type"] == "expect_column_values_to_be_in_set"]
    assert in_set[0]["kwargs"]["column"] == "plot_type"
    assert len(in_set[0]["kwargs"]["value_set"]) == 5


def test_tests_of_models_joining_several_tables_are_noted_not_imported(imported):
    assert any("fct_captures" in n and "--scope models" in n for n in imported.notes)


def test_imported_fragment_trains_in_a_pipeline_file(imported, tmp_path):
    import yaml

    fragment = yaml.safe_load(imported.to_yaml())
    document = {
        "name": "from_dbt",
        "source": {"connector": "files", "options": {"path": "@demo/ratdat"}},
        "generator": {"generator": "independent", **fragment["generator"]},
        "validation": fragment["validation"],
    }
    pipeline = parse_pipeline(document, tmp_path)
    record = synthpipe.train(pipeline, home=tmp_path / "home")
    config = GeneratorConfig.model_validate(record.config)
    assert config.table("surveys").context_key.referenced_table == "plots"
    assert record.status == "DONE"


def test_scope_models_imports_each_model_as_a_table(built):
    project, _ = built
    result = import_manifest(project.root / "target" / "manifest.json", scope="models")
    stg_surveys = next(t for t in result.tables if t.name == "stg_surveys")
    assert {fk.referenced_table for fk in stg_surveys.foreign_keys} == {"stg_plots", "stg_species"}
    assert next(t for t in result.tables if t.name == "fct_captures").primary_key == ["record_id"]


# -- edge cases on small hand-written manifests ---------------------------------------------


def _manifest(tests: list[dict], sources=("orders", "customers"), models=()) -> dict:
    nodes = {}
    source_nodes = {
        f"source.p.raw.{name}": {
            "unique_id": f"source.p.raw.{name}",
            "resource_type": "source",
            "name": name,
            "identifier": name,
            "columns": {},
            "meta": {},
        }
        for name in sources
    }
    for model in models:
        nodes[model["unique_id"]] = {"resource_type": "model", "columns": {}, **model}
    for i, test in enumerate(tests):
        unique_id = f"test.p.t{i}"
        nodes[unique_id] = {
            "unique_id": unique_id,
            "resource_type": "test",
            "config": {"enabled": True, "where": test.pop("where", None)},
            **test,
        }
    return {
        "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"},
        "sources": source_nodes,
        "nodes": nodes,
    }


def _test(name, node, column=None, depends=(), **kwargs):
    return {
        "test_metadata": {"name": name, "kwargs": kwargs},
        "attached_node": node,
        "column_name": column,
        "depends_on": {"nodes": [*depends, node]},
    }


def test_conditional_unique_test_is_not_a_key():
    orders = "source.p.raw.orders"
    result = import_manifest(
        _manifest(
            [
                {**_test("unique", orders, "id"), "where": "status = 'open'"},
                _test("not_null", orders, "id"),
            ]
        )
    )
    assert next(t for t in result.tables if t.name == "orders").primary_key is None
    assert any("`where` filter" in n for n in result.notes)


def test_relationship_target_without_key_tests_becomes_its_primary_key():
    orders, customers = "source.p.raw.orders", "source.p.raw.customers"
    rel = _test("relationships", orders, "customer_id", [customers], to="x", field="cid")
    result = import_manifest(_manifest([rel]))
    assert next(t for t in result.tables if t.name == "customers").primary_key == ["cid"]
    assert any("customers" in n and "relationships" in n for n in result.notes)


def test_unique_combination_of_not_null_columns_is_a_composite_key():
    orders = "source.p.raw.orders"
    tests = [
        _test("unique_combination_of_columns", orders, combination_of_columns=["a", "b"]),
        _test("not_null", orders, "a"),
        _test("not_null", orders, "b"),
    ]
    result = import_manifest(_manifest(tests))
    assert next(t for t in result.tables if t.name == "orders").primary_key == ["a", "b"]
    compound = result.expectations["orders"][-1]
    assert compound == {
        "type": "expect_compound_columns_to_be_unique",
        "kwargs": {"column_list": ["a", "b"]},
    }


def test_model_contract_primary_key_constraint_is_the_key():
    model = {
        "unique_id": "model.p.dim",
        "name": "dim",
        "alias": "dim",
        "depends_on": {"nodes": []},
        "constraints": [{"type": "primary_key", "columns": ["k"]}],
    }
    result = import_manifest(_manifest([], sources=(), models=[model]), scope="models")
    assert result.tables[0].primary_key == ["k"]


def test_staging_model_tests_apply_to_its_source_column_by_column():
    stg = {
        "unique_id": "model.p.stg_orders",
        "name": "stg_orders",
        "depends_on": {"nodes": ["source.p.raw.orders"]},
    }
    tests = [_test("unique", stg["unique_id"], "id"), _test("not_null", stg["unique_id"], "id")]
    result = import_manifest(_manifest(tests, models=[stg]))
    assert [t.name for t in result.tables] == ["orders", "customers"]
    assert result.tables[0].primary_key == ["id"]


def test_a_file_that_is_not_a_manifest_is_refused(tmp_path):
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps({"metadata": {"dbt_schema_version": "x/run-results/v6.json"}}))
    with pytest.raises(ConfigError, match="not a dbt manifest"):
        import_manifest(path)
