"""The Python API: run a pipeline end to end, and the asyncio variants."""

from __future__ import annotations

import asyncio

import duckdb
import pyarrow.parquet as pq

import synthpipe


def test_run_delivers_the_demo_to_duckdb_and_parquet(home, demo_pipeline, tmp_path):
    pipeline = synthpipe.load_pipeline(demo_pipeline)
    pipeline.generator.generator = "independent"
    pipeline.delivery[0].destination.options["path"] = str(tmp_path / "demo.duckdb")
    pipeline.delivery[1].destination.options["path"] = str(tmp_path / "parquet")
    result = synthpipe.run(pipeline)
    surveys_rows = result["tables"]["surveys"]["rows"]
    with duckdb.connect(str(tmp_path / "demo.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from main.plots").fetchone()[0] == 24
        assert con.execute("select count(*) from main.surveys").fetchone()[0] == surveys_rows
        orphans = con.execute(
            "select count(*) from main.surveys s left join main.plots p "
            "using (plot_id) where p.plot_id is null"
        ).fetchone()[0]
        assert orphans == 0
    assert pq.read_table(tmp_path / "parquet" / "species.parquet").num_rows == 54


def test_async_train_and_generate(home, demo_pipeline):
    async def flow():
        generator = await synthpipe.atrain(demo_pipeline, generator="independent")
        return await synthpipe.agenerate(generator.id, sizes={"plots": 5}, seed=1)

    dataset = asyncio.run(flow())
    assert dataset.tables["plots"]["rows"] == 5


def test_cancel_marks_the_job_canceled(home, demo_pipeline):
    import pytest

    from synthpipe.errors import CanceledError
    from synthpipe.progress import Progress

    progress = Progress()
    progress.listeners.append(lambda p, step: p.cancel() if step.name.startswith("train") else 0)
    with pytest.raises(CanceledError):
        synthpipe.train(demo_pipeline, generator="independent", progress=progress)
    [record] = synthpipe.list_generators()
    assert record.status == "CANCELED"
