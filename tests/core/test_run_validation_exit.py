"""`synthpipe run`: a failed validation exits non-zero unless --force, with or without
deliveries; deliveries marked `force` in the file still happen."""

from __future__ import annotations

import json

import pytest
from daily_support import write_pipeline

from synthpipe.cli import main
from synthpipe.store import Store

# An expectation no synthetic dataset meets: validation fails.
IMPOSSIBLE = {
    "enabled": True,
    "expectations": {
        "customers": [{"type": "expect_table_row_count_to_equal", "kwargs": {"value": 1}}]
    },
}


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main([*args])
        raise SystemExit(0)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def files_delivery(tmp_path, name: str, force: bool = False) -> dict:
    return {
        "destination": {"connector": "files", "options": {"path": str(tmp_path / name)}},
        "force": force,
    }


def test_failed_validation_without_delivery_exits_1(home, tmp_path, capsys):
    path = write_pipeline(tmp_path, validation=IMPOSSIBLE)
    code, _, err = run_cli(capsys, "-q", "run", str(path))
    assert code == 1
    assert "failed validation; nothing delivered" in err
    assert "pass force=True (--force)" in err
    assert "expect_table_row_count_to_equal" in err


def test_force_flag_accepts_a_failed_validation_and_delivers(home, tmp_path, capsys):
    delivery = [files_delivery(tmp_path, "out")]
    path = write_pipeline(tmp_path, validation=IMPOSSIBLE, delivery=delivery)
    code, out, err = run_cli(capsys, "-q", "run", str(path), "--force")
    assert code == 0, err
    assert "validation FAILED (--force)" in out
    assert (tmp_path / "out" / "customers.parquet").is_file()
    [dataset] = Store(home).datasets()
    assert dataset.forced_delivery and dataset.validation["success"] is False


def test_failed_validation_delivers_only_where_the_file_forces_and_exits_1(home, tmp_path, capsys):
    deliveries = [files_delivery(tmp_path, "forced", force=True), files_delivery(tmp_path, "no")]
    path = write_pipeline(tmp_path, validation=IMPOSSIBLE, delivery=deliveries)
    code, _, err = run_cli(capsys, "-q", "run", str(path))
    assert code == 1
    assert "delivered only where the file sets force: 0:files" in err
    assert (tmp_path / "forced" / "customers.parquet").is_file()
    assert not (tmp_path / "no").exists()


def test_passing_validation_exits_0(home, tmp_path, capsys):
    path = write_pipeline(tmp_path, validation={"enabled": True})
    code, out, err = run_cli(capsys, "--json", "-q", "run", str(path))
    assert code == 0, err
    assert json.loads(out)["validation"] is True
