"""Progress: plain log lines off a terminal (percentages, a heartbeat, never one per row), the
step helpers (``task``, ``iterate``, ``guard``) and the listener the CLI picks."""

from __future__ import annotations

import io
import re

import pytest

from synthpipe.errors import CanceledError
from synthpipe.progress import Bar, LogLines, Progress, console


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged():
    """A Progress writing LogLines into a list, with a clock the test moves."""
    lines: list[str] = []
    clock = Clock()
    progress = Progress([LogLines(lines.append, clock=clock)])
    return progress, lines, clock


SECONDS = r"\d+\.\d s"


def test_a_step_with_a_total_logs_start_every_ten_percent_and_end(logged):
    progress, lines, clock = logged
    progress.step("deliver surveys to postgres", total=1_000_000, unit="rows")
    for _ in range(100):  # 100 batches of 10,000 rows, 2 s apart
        clock.now += 2
        progress.advance(10_000)
    progress.done()
    assert lines[0] == "deliver surveys to postgres: started (1,000,000 rows)"
    middle = lines[1:-1]
    assert [int(re.search(r": (\d+)%", m)[1]) for m in middle] == list(range(10, 100, 10))
    assert re.fullmatch(rf"deliver surveys to postgres: 10% \(100,000/1,000,000 rows, {SECONDS}\)",
                        middle[0])  # fmt: skip
    assert re.fullmatch(
        rf"deliver surveys to postgres: done, 1,000,000 rows in {SECONDS}", lines[-1]
    )
    assert len(lines) == 11  # not one per batch, let alone per row


def test_fast_steps_print_only_start_and_end(logged):
    progress, lines, _ = logged
    progress.step("train plots", total=12, unit="columns")
    for _ in range(12):
        progress.advance()  # all within the same second
    progress.done()
    assert lines[0] == "train plots: started (12 columns)"
    assert re.fullmatch(rf"train plots: done, 12 columns in {SECONDS}", lines[1])
    assert len(lines) == 2


def test_percent_lines_are_throttled_but_catch_up(logged):
    progress, lines, clock = logged
    progress.step("validate surveys", total=10, unit="checks")
    progress.advance(5)  # 50% at once, within min_interval: held back
    assert lines == ["validate surveys: started (10 checks)"]
    clock.now += 1.5
    progress.advance(1)  # 60%
    assert lines[-1].startswith("validate surveys: 60% (6/10 checks, ")


def test_a_step_without_total_logs_a_heartbeat(logged):
    progress, lines, clock = logged
    progress.step("report ratdat: evaluate")
    progress.advance()
    clock.now += 31
    progress.advance(4)
    progress.done()
    assert lines[0] == "report ratdat: evaluate: started"
    assert re.fullmatch(rf"report ratdat: evaluate: 5 so far \({SECONDS}\)", lines[1])
    assert re.fullmatch(rf"report ratdat: evaluate: done, 5 in {SECONDS}", lines[2])


def test_a_slow_step_with_a_total_gets_heartbeats_between_percentages(logged):
    progress, lines, clock = logged
    progress.step("deliver big to postgres", total=1_000, unit="rows")
    clock.now += 45
    progress.advance(1)  # 0.1%: no percentage crossed, but 45 s without a line
    assert re.fullmatch(rf"deliver big to postgres: 1/1,000 rows so far \({SECONDS}\)", lines[-1])


def test_a_failed_step_says_so_with_how_far_it_got(logged):
    progress, lines, _ = logged
    with pytest.raises(RuntimeError), progress.task("deliver x to duckdb", total=4, unit="rows"):
        progress.advance(1)
        raise RuntimeError("boom")
    assert re.fullmatch(rf"deliver x to duckdb: FAILED after {SECONDS} \(1/4 rows\)", lines[-1])
    assert progress.steps[-1].status == "FAILED"


def test_task_closes_its_step_done_or_canceled():
    progress = Progress()
    with progress.task("a", total=3) as step:
        progress.advance(3)
    assert (step.status, step.completed) == ("DONE", 3)
    progress.cancel()
    with pytest.raises(CanceledError), progress.task("b"):
        pass
    assert progress.steps[-1].name == "a"  # the canceled job starts nothing new


def test_iterate_counts_what_the_consumer_took_and_starts_lazily():
    progress = Progress()
    batches = [list(range(3)), list(range(5))]
    stream = progress.iterate(batches, "deliver t to duckdb", total=8, unit="rows", size=len)
    assert progress.steps == []  # nothing asked for yet
    first = next(stream)
    assert progress.current.name == "deliver t to duckdb" and progress.current.completed == 0
    assert first == [0, 1, 2]
    assert list(stream) == [list(range(5))]
    assert (progress.current.status, progress.current.completed) == ("DONE", 8)


def test_iterate_of_nothing_still_shows_a_finished_step():
    progress = Progress()
    assert list(progress.iterate([], "deliver empty to duckdb", total=0, unit="rows")) == []
    assert progress.as_list()[0]["status"] == "DONE"


def test_a_cancel_stops_an_iterated_stream_inside_its_consumer():
    progress = Progress()
    stream = progress.iterate(range(10), "deliver t to duckdb")
    next(stream)
    progress.cancel()
    with pytest.raises(CanceledError):
        next(stream)


def test_guard_closes_the_streams_a_failing_consumer_abandoned():
    progress = Progress()
    streams = [progress.iterate(range(3), name) for name in ("one", "two")]
    with pytest.raises(ValueError), progress.guard():
        list(streams[0])
        next(streams[1])
        raise ValueError("the destination refused a row")
    assert [(s.name, s.status) for s in progress.steps] == [("one", "DONE"), ("two", "FAILED")]


def test_steps_record_their_unit():
    progress = Progress()
    progress.step("load surveys", total=10, unit="rows")
    assert progress.as_list()[0]["unit"] == "rows"


def test_console_writes_plain_lines_off_a_terminal():
    out = io.StringIO()
    listener = console(out)
    assert isinstance(listener, LogLines)
    progress = Progress([listener])
    progress.step("generate surveys", total=2, unit="rows")
    progress.done()
    assert out.getvalue().splitlines()[0] == "generate surveys: started (2 rows)"


def test_console_draws_bars_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    listener = console(Terminal())
    assert isinstance(listener, Bar)
    progress = Progress([listener])
    progress.step("generate surveys", total=2, unit="rows")
    progress.advance(2)
    progress.done()
    assert not listener.bar.live.is_started  # stopped once every step ended
