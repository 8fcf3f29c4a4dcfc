"""`synthpipe validate DATASET`: a one-screen summary, --json, --pipeline, exit 1 on failure."""

from __future__ import annotations

import json

import pyarrow as pa
import yaml
from click.testing import CliRunner

from synthpipe.validate.cli import validate_command


def invoke(home, *args: str):
    runner = CliRunner()
    return runner.invoke(validate_command, list(args), env={"SYNTHPIPE_HOME": str(home)})


def test_passing_dataset_exits_0_with_a_one_line_verdict(store_home, generate):
    ds = generate("shop")
    out = invoke(store_home, ds.id)
    assert out.exit_code == 0, out.output
    (line,) = out.output.splitlines()
    assert line.startswith(f"dataset {ds.name} ({ds.id}) passed validation: ")
    assert line.endswith(" checks on 4 tables, 0 gates")


def test_failing_dataset_exits_1_listing_what_failed(store_home, generate, corrupt):
    ds = generate("shop")
    corrupt(ds, "orders", lambda t: t.append_column("leak", pa.array([1] * t.num_rows)))
    out = invoke(store_home, ds.name)
    assert out.exit_code == 1
    lines = out.output.splitlines()
    assert "FAILED validation" in lines[0]
    assert any("orders: expect_table_columns_to_match_set failed" in line for line in lines)
    assert len(lines) <= 25


def test_json_flag_prints_the_full_result(store_home, generate):
    ds = generate("shop")
    out = invoke(store_home, ds.id, "--json")
    report = json.loads(out.output)
    assert report["success"] is True
    assert set(report["tables"]) == {"customers", "orders", "order_lines", "products"}


def test_pipeline_validation_block_applies(store_home, tmp_path, generate, corrupt):
    ds = generate("shop")
    corrupt(ds, "orders", lambda t: t.set_column(2, "status", pa.array(["lost"] * t.num_rows)))
    pipeline = tmp_path / "shop.yaml"
    pipeline.write_text(
        yaml.safe_dump(
            {
                "name": "shop",
                "source": {"connector": "files", "options": {"path": str(tmp_path)}},
                "validation": {"disable": ["orders.status.expect_column_values_to_be_in_set"]},
            }
        )
    )
    assert invoke(store_home, ds.id).exit_code == 1
    assert invoke(store_home, ds.id, "--pipeline", str(pipeline)).exit_code == 0


def test_validation_is_recorded_for_delivery(store_home, generate, corrupt):
    from synthpipe.store import Store

    ds = generate("shop")
    corrupt(ds, "orders", lambda t: t.drop_columns(["status"]))
    invoke(store_home, ds.id)
    assert Store(store_home).dataset(ds.id).validation["success"] is False
