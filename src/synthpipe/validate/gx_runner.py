"""Run a table's checks with Great Expectations, in an ephemeral context that writes no files.

One context per validation run holds one pandas data source, a dataframe asset and a suite per
table and batch kind (``schema``, ``rows``). Schema suites run on every part's schema frame,
row suites on each chunk of rows; the results of all parts and chunks are merged per check:
it succeeds when it succeeded everywhere, unexpected counts add up, and the first failure's
observed value and examples are kept. Importing this module imports GX (seconds), so only the
validation run does.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from synthpipe.errors import ConfigError
from synthpipe.validate.checks import Check
from synthpipe.validate.frames import chunks, schema_frame, value_frame
from synthpipe.validate.relational import EXAMPLES

if TYPE_CHECKING:
    import pandas as pd

    from synthpipe.progress import Progress

RESULT_FORMAT = "BASIC"  # counts plus up to 20 unexpected values, without index lists
META_KEY = "synthpipe_check"


class GXRunner:
    """An ephemeral GX context and the suites of one validation run."""

    def __init__(self):
        from synthpipe.errors import require

        # Named with its install command when missing (the `gx` extra), not as a crash.
        gx = require("great_expectations", "validation (Great Expectations)")
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        import synthpipe.validate.gx_types  # noqa: F401  (registers the Arrow type expectation)

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            progress_bars=ProgressBarsConfig(globally=False),
            analytics_enabled=False,
        )
        self.gx = gx
        self.version = gx.__version__
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.source = self.context.data_sources.add_pandas("synthpipe")
        self.suites: dict[str, tuple] = {}

    def prepare(self, suites: dict[str, list[Check]]) -> None:
        """Build every GX suite up front, so a bad user expectation stops the run before any
        data is read; all such problems are reported together."""
        problems = []
        for table, found in suites.items():
            for batch in ("schema", "rows"):
                checks = [k for k in found if k.batch == batch]
                expectations = [self._expectation(k, i, problems) for i, k in enumerate(checks)]
                if checks and all(e is not None for e in expectations):
                    self._add(f"{table}.{batch}", checks, expectations)
        if problems:
            raise ConfigError(problems)

    def _expectation(self, check: Check, index: int, problems: list[str]):
        from great_expectations.expectations.registry import get_expectation_impl

        where = f"expectation '{check.type}' on table '{check.table}'"
        try:
            cls = get_expectation_impl(check.type)
        except Exception:
            problems.append(
                f"{where}: no such Great Expectations expectation; use a name from "
                "https://greatexpectations.io/expectations, e.g. expect_column_values_to_be_between"
            )
            return None
        try:
            return cls(**check.kwargs, meta={META_KEY: index})
        except Exception as exc:
            detail = " ".join(str(exc).split())
            problems.append(f"{where}: invalid kwargs {check.kwargs}: {detail}")
            return None

    def _add(self, name: str, checks: list[Check], expectations: list) -> None:
        suite = self.context.suites.add(
            self.gx.ExpectationSuite(name=name, expectations=expectations)
        )
        asset = self.source.add_dataframe_asset(name=name)
        definition = asset.add_batch_definition_whole_dataframe(name)
        self.suites[name] = (checks, suite, definition)

    def run(self, name: str, frame: pd.DataFrame, where: str) -> dict[Check, dict]:
        """Validate ``frame`` against suite ``name``; the raw result of each check."""
        checks, suite, definition = self.suites[name]
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(suite, result_format=RESULT_FORMAT)
        raws = {}
        for result in outcome.results:
            raw = _raw(result)
            if not raw["success"]:
                raw["where"] = where
            raws[checks[result.expectation_config.meta[META_KEY]]] = raw
        return raws


def validate_table(
    runner: GXRunner,
    table: str,
    parts: list[Path],
    chunk_rows: int,
    progress: Progress | None = None,
) -> dict[Check, dict]:
    """Run the table's schema suite on each part and its row suite on each chunk; the merged
    raw result of every check.

    ``progress`` (on the table's step, counting checks) advances by the schema checks once they
    ran, and by the row checks in proportion to the rows validated so far.
    """
    import pyarrow.parquet as pq

    collected: dict[Check, list[dict]] = {}
    if f"{table}.schema" in runner.suites:
        for part in parts:
            frame = schema_frame(pq.ParquetFile(part).schema_arrow)
            _collect(collected, runner.run(f"{table}.schema", frame, part.name))
        if progress is not None:
            progress.advance(len(runner.suites[f"{table}.schema"][0]))
    if f"{table}.rows" in runner.suites:
        checks = len(runner.suites[f"{table}.rows"][0])
        rows = sum(pq.ParquetFile(part).metadata.num_rows for part in parts) or 1
        start = counted = 0
        for chunk in chunks(parts, chunk_rows):
            where = f"rows {start:,}-{start + chunk.num_rows:,}"
            _collect(collected, runner.run(f"{table}.rows", value_frame(chunk), where))
            start += chunk.num_rows
            if progress is not None:
                done = checks * min(start, rows) // rows
                progress.advance(done - counted)
                counted = done
        if progress is not None and checks > counted:
            progress.advance(checks - counted)
    return {check: merge(raws) for check, raws in collected.items()}


def _collect(collected: dict[Check, list[dict]], raws: dict[Check, dict]) -> None:
    for check, raw in raws.items():
        collected.setdefault(check, []).append(raw)


def _raw(result) -> dict:
    found = result.result or {}
    error = _exception(result.exception_info)
    return {
        "success": bool(result.success) and error is None,
        "observed_value": found.get("observed_value"),
        "unexpected_count": found.get("unexpected_count"),
        "element_count": found.get("element_count"),
        "unexpected_examples": found.get("partial_unexpected_list"),
        "details": found.get("details"),
        "exception": error,
    }


def _exception(info) -> str | None:
    """GX's exception message, from either of the shapes it reports them in."""
    if not info:
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info["raised_exception"] else None
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message")
    return None


def merge(raws: Iterable[dict]) -> dict:
    """One raw result from the results of several parts or chunks."""
    raws = list(raws)
    if len(raws) == 1:
        return raws[0]
    failing = [r for r in raws if not r["success"]]
    merged = dict((failing or raws)[0])
    merged["success"] = not failing
    for key in ("unexpected_count", "element_count"):
        values = [r.get(key) for r in raws]
        if all(v is not None for v in values):
            merged[key] = sum(values)
    examples = [e for r in raws for e in (r.get("unexpected_examples") or [])]
    merged["unexpected_examples"] = examples[:EXAMPLES]
    return merged
