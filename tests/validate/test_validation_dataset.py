"""validate_dataset: persisting the verdict, the delivery policy, user expectations and gates."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow as pa
import pytest

from synthpipe import api, plugins
from synthpipe.errors import ArtifactError, ConfigError, SynthpipeError
from synthpipe.pipeline import Gates, Validation
from synthpipe.store import Status, Store


def break_orders(corrupt, ds) -> None:
    corrupt(ds, "orders", lambda t: t.append_column("leak", pa.array([1] * t.num_rows)))


def test_demo_dataset_in_several_partitions_passes(generate, validate):
    result = validate(generate("demo", partitions=3))
    assert result.success, result.summary()
    assert set(result.tables) == {"plots", "surveys", "species"}


@pytest.mark.parametrize("generator", ["independent", "fidelity"])
def test_every_built_in_generator_passes_its_derived_suite(tmp_path, demo_pipeline, generator):
    if generator not in plugins.get_registry().generators:
        pytest.skip(f"generator '{generator}' is not registered in this checkout")
    from synthpipe.validate import validate_dataset

    api.train(demo_pipeline, generator=generator, name=generator, home=tmp_path)
    ds = api.generate(generator, sizes={"plots": 20}, partitions=2, home=tmp_path)
    result = validate_dataset(ds.id, home=tmp_path, persist=False)
    assert result.success, result.summary()


def test_chunked_validation_finds_what_whole_table_validation_finds(
    generate, corrupt, validate, failed
):
    ds = generate("shop")
    corrupt(
        ds,
        "order_lines",
        lambda t: t.set_column(3, "quantity", pa.array([99] * t.num_rows, pa.int32())),
    )
    whole, chunked = validate(ds), validate(ds, chunk_rows=100)
    (a,) = failed(whole, "order_lines", "expect_column_values_to_be_between", "quantity")
    (b,) = failed(chunked, "order_lines", "expect_column_values_to_be_between", "quantity")
    assert a["unexpected_count"] == b["unexpected_count"] == ds.tables["order_lines"]["rows"]
    assert whole.counts() == chunked.counts()


def test_result_is_stored_on_the_dataset_record(store_home, generate, validate):
    ds = generate("shop")
    validate(ds, persist=True)
    stored = Store(store_home).dataset(ds.id).validation
    assert stored["success"] is True
    assert stored["statistics"]["failed"] == 0


def test_result_is_written_as_json_and_html_beside_the_parts(
    store_home, generate, corrupt, validate
):
    ds = generate("shop")
    break_orders(corrupt, ds)
    validate(ds, persist=True)
    folder = Store(store_home).dataset_dir(ds.id)
    report = json.loads((folder / "validation.json").read_text())
    assert report["success"] is False
    assert report["tables"]["orders"]["success"] is False
    assert "unexpected column(s) leak" in (folder / "validation.html").read_text()


def test_json_summary_has_per_expectation_observed_values_and_examples(generate, corrupt, validate):
    ds = generate("shop")
    corrupt(ds, "orders", lambda t: t.set_column(2, "status", pa.array(["lost"] * t.num_rows)))
    report = validate(ds).to_dict()
    json.dumps(report)  # JSON-safe
    (status,) = [
        e
        for e in report["tables"]["orders"]["results"]
        if e["column"] == "status" and e["expectation"] == "expect_column_values_to_be_in_set"
    ]
    assert status["success"] is False
    assert status["unexpected_count"] == status["element_count"] > 0
    assert status["unexpected_examples"][0] == "lost"


def test_failed_dataset_is_refused_by_delivery(store_home, tmp_path, generate, corrupt, validate):
    ds = generate("shop")
    break_orders(corrupt, ds)
    validate(ds, persist=True)
    delivery = {"destination": {"connector": "files", "options": {"path": str(tmp_path)}}}
    with pytest.raises(SynthpipeError, match="failed validation"):
        api.deliver(ds.id, delivery, home=store_home)


def test_forced_delivery_of_a_failed_dataset_is_recorded(
    store_home, tmp_path, generate, corrupt, validate
):
    ds = generate("shop")
    break_orders(corrupt, ds)
    validate(ds, persist=True)
    delivery = {"destination": {"connector": "files", "options": {"path": str(tmp_path)}}}
    api.deliver(ds.id, delivery, home=store_home, force=True)
    assert Store(store_home).dataset(ds.id).forced_delivery


def test_revalidating_a_repaired_dataset_clears_the_failure(
    store_home, generate, corrupt, validate
):
    ds = generate("shop")
    break_orders(corrupt, ds)
    assert not validate(ds, persist=True).success
    corrupt(ds, "orders", lambda t: t.drop_columns(["leak"]))
    assert validate(ds, persist=True).success
    assert Store(store_home).dataset(ds.id).validation["success"] is True


def test_user_expectation_is_evaluated_and_reported(generate, validate, failed):
    extra = {
        "type": "expect_column_max_to_be_between",
        "kwargs": {"column": "quantity", "max_value": 0},
    }
    settings = Validation(expectations={"order_lines": [extra]})
    result = validate(generate("shop"), settings=settings)
    (entry,) = failed(result, "order_lines", "expect_column_max_to_be_between", "quantity")
    assert entry["source"] == "user"
    assert entry["observed_value"] > 0


def test_unknown_user_expectation_is_a_config_error(generate, validate):
    settings = Validation(expectations={"orders": [{"type": "expect_everything_to_be_fine"}]})
    with pytest.raises(ConfigError, match="expect_everything_to_be_fine"):
        validate(generate("shop"), settings=settings)


def test_user_expectation_with_bad_arguments_is_a_config_error(generate, validate):
    settings = Validation(
        expectations={"orders": [{"type": "expect_column_values_to_be_in_set", "kwargs": {}}]}
    )
    with pytest.raises(ConfigError, match=r"table 'orders'.*value_set"):
        validate(generate("shop"), settings=settings)


def test_disabled_derived_check_is_not_evaluated(generate, corrupt, validate):
    ds = generate("shop")
    corrupt(ds, "orders", lambda t: t.set_column(2, "status", pa.array(["lost"] * t.num_rows)))
    settings = Validation(disable=["orders.status.expect_column_values_to_be_in_set"])
    assert validate(ds, settings=settings).success


def test_validation_disabled_in_the_pipeline_is_skipped(generate, validate):
    result = validate(generate("shop"), settings=Validation(enabled=False))
    assert result.skipped and result.success and not result.tables


def test_gates_pass_when_qa_metrics_meet_them(generate, validate):
    gates = Gates(min_accuracy=0.8, max_dcr_share=0.6, max_discriminator_auc=0.7)
    qa = {"headline": {"accuracy": 0.9, "dcr_share": 0.5, "discriminator_auc": 0.6}}
    result = validate(generate("shop"), settings=Validation(gates=gates), qa_metrics=qa)
    assert result.success
    assert [g["gate"] for g in result.gates] == [
        "min_accuracy",
        "max_dcr_share",
        "max_discriminator_auc",
    ]


def test_a_missed_gate_fails_validation(generate, validate):
    qa = {"headline": {"accuracy": 0.7}}
    result = validate(
        generate("shop"), settings=Validation(gates=Gates(min_accuracy=0.8)), qa_metrics=qa
    )
    assert not result.success
    assert result.failures() == ["gate min_accuracy: accuracy 0.7 misses >= 0.8"]


def test_a_gate_without_qa_metrics_fails_validation(generate, validate):
    result = validate(generate("shop"), settings=Validation(gates=Gates(max_dcr_share=0.5)))
    assert not result.success
    assert "no QA metrics" in result.failures()[0]


def test_gates_read_the_qa_metrics_stored_in_the_dataset_folder(store_home, generate, validate):
    from synthpipe.qa import SCHEMA_VERSION

    ds = generate("shop")
    qa = {"schema_version": SCHEMA_VERSION, "headline": {"discriminator_auc": 0.95}}
    (Store(store_home).dataset_dir(ds.id) / "qa_metrics.json").write_text(json.dumps(qa))
    result = validate(ds, settings=Validation(gates=Gates(max_discriminator_auc=0.9)))
    assert result.failures() == ["gate max_discriminator_auc: discriminator_auc 0.95 misses <= 0.9"]


def test_an_incomplete_dataset_cannot_be_validated(store_home, validate):
    from synthpipe.engine import create_dataset
    from synthpipe.schema import SampleSpec

    record = create_dataset(Store(store_home), "shop", SampleSpec())
    assert record.status is Status.QUEUED
    with pytest.raises(ArtifactError, match="QUEUED"):
        validate(record)


def test_validation_writes_no_gx_files(tmp_path, generate, validate, monkeypatch):
    monkeypatch.chdir(tmp_path)
    validate(generate("shop"))
    assert list(tmp_path.iterdir()) == []


def test_the_package_is_callable_as_the_validate_verb(store_home, generate):
    import synthpipe.validate

    result = synthpipe.validate(generate("shop").id, home=store_home, persist=False)
    assert result.success


def test_importing_the_package_loads_no_heavy_library():
    code = (
        "import sys, synthpipe.validate, synthpipe.validate.cli;"
        "heavy = {'great_expectations', 'pandas', 'duckdb', 'pyarrow'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ
    )
    assert out.stdout.strip() == "[]", out.stderr
