"""Progress and cancellation for long work: every long step reports through this.

The engine creates one ``Progress`` per job; training, generation, the QA report, validation
and delivery call ``step`` when a step starts and ``advance`` as they go (or wrap their loop in
``task`` or ``iterate``, which close the step however the block ends). ``cancel()`` (from a
signal handler, an Airflow ``on_kill`` or another thread) makes the next ``advance``/``check``
raise ``CanceledError`` so work stops at a clean point and nothing half-written is kept.

Listeners see every change. ``console()`` draws a progress bar on a terminal and otherwise
writes plain lines (``LogLines``) fit for files and scheduler task logs: one when a step
starts, one at every 10% of its total (or every 30 s when it has no total), one when it ends.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TypeVar

from synthpipe.errors import CanceledError

T = TypeVar("T")


@dataclass
class Step:
    """One step of a job (load, train per table, generate per table, report, validate, deliver)."""

    name: str
    total: int | None = None
    completed: int = 0
    status: str = "IN_PROGRESS"
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    unit: str | None = None  # what is counted ("rows", "checks"); None for plain steps

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "total": self.total,
            "completed": self.completed,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "unit": self.unit,
        }


Listener = Callable[["Progress", Step], None]


class Progress:
    """Steps of one job, with listeners (progress bars, log lines, status files) and a cancel
    flag."""

    def __init__(self, listeners: list[Listener] | None = None):
        self.steps: list[Step] = []
        self.listeners = list(listeners or [])
        self._cancel = threading.Event()

    @property
    def current(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    def step(self, name: str, total: int | None = None, unit: str | None = None) -> Step:
        """Close the running step and start a new one of ``total`` ``unit``s (if known)."""
        self.check()
        self._finish_current("DONE")
        step = Step(name=name, total=total, unit=unit)
        self.steps.append(step)
        self._notify(step)
        return step

    def advance(self, n: int = 1, step: Step | None = None) -> None:
        """Record progress on the running step (or ``step``); raises CanceledError after a
        cancel."""
        self.check()
        step = step or self.current
        if step is not None and step.finished_at is None:
            step.completed += n
            self._notify(step)

    def done(self, status: str = "DONE") -> None:
        """Close the running step."""
        self._finish_current(status)

    def finish(self, step: Step, status: str = "DONE") -> None:
        """Close ``step`` (a no-op when it is closed already)."""
        if step.finished_at is None:
            step.status = status
            step.finished_at = time.time()
            if step.total is not None and status == "DONE":
                step.completed = step.total
            self._notify(step)

    @contextmanager
    def task(self, name: str, total: int | None = None, unit: str | None = None) -> Iterator[Step]:
        """A step for the block: DONE when it ends, CANCELED or FAILED when it raises.

        ``with progress.task("report: accuracy", total=len(columns), unit="columns"): ...``
        with ``progress.advance()`` per column inside.
        """
        step = self.step(name, total, unit)
        try:
            yield step
        except (CanceledError, KeyboardInterrupt):
            self.finish(step, "CANCELED")
            raise
        except BaseException:
            self.finish(step, "FAILED")
            raise
        self.finish(step, "DONE")

    def iterate(
        self,
        items: Iterable[T],
        name: str,
        *,
        total: int | None = None,
        unit: str | None = None,
        size: Callable[[T], int] | None = None,
    ) -> Iterator[T]:
        """Yield ``items``, counting each one (or ``size(item)``, e.g. a batch's rows) once the
        consumer asks for the next.

        The step starts when the first item is asked for, so a consumer that takes several such
        streams one after the other (a connector writing tables) shows each as it comes, and
        ends DONE when the items run out. A cancel raises CanceledError inside the consumer.
        """
        step: Step | None = None
        for item in items:
            if step is None:
                step = self.step(name, total, unit)
            yield item
            self.advance(1 if size is None else size(item), step=step)
        if step is None:
            step = self.step(name, total, unit)
        self.finish(step, "DONE")

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Close the steps the block started and left open as CANCELED or FAILED when it raises
        (e.g. the streams of ``iterate`` a failing consumer abandoned)."""
        first = len(self.steps)
        try:
            yield
        except BaseException as exc:
            canceled = isinstance(exc, CanceledError | KeyboardInterrupt)
            status = "CANCELED" if canceled else "FAILED"
            for step in self.steps[first:]:
                self.finish(step, status)
            raise

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def canceled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise CanceledError("canceled on request; nothing from the unfinished step was kept")

    def as_list(self) -> list[dict]:
        return [s.as_dict() for s in self.steps]

    def _finish_current(self, status: str) -> None:
        if self.current is not None:
            self.finish(self.current, status)

    def _notify(self, step: Step) -> None:
        for listener in self.listeners:
            listener(self, step)


def ensure(progress: Progress | None) -> Progress:
    """``progress``, or a silent one for callers that passed none."""
    return progress if progress is not None else Progress()


# -- listeners ----------------------------------------------------------------------------------


def _count(n: int, unit: str | None) -> str:
    return f"{n:,} {unit}" if unit else f"{n:,}"


class LogLines:
    """Progress as plain log lines, for output that is not a terminal (files, Airflow logs).

    A step gets a line when it starts, a line each time it crosses another ``every_percent`` of
    its total (at most one per ``min_interval`` seconds, so fast steps stay short), a line every
    ``every_seconds`` while it runs without crossing one (or when it has no total), and a line
    when it ends::

        deliver surveys: started (35,549 rows)
        deliver surveys: 30% (10,000/35,549 rows, 1.2 s)
        deliver surveys: done, 35,549 rows in 3.9 s

    Never one line per row: lines come only from ``advance`` calls, and at most one per
    threshold crossed.
    """

    def __init__(
        self,
        write: Callable[[str], object] | None = None,
        *,
        every_percent: int = 10,
        every_seconds: float = 30.0,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.write = write or _stderr_line
        self.every_percent = every_percent
        self.every_seconds = every_seconds
        self.min_interval = min_interval
        self.clock = clock
        self._seen: dict[int, list] = {}  # id(step) -> [last line time, last percent bucket]

    def __call__(self, _progress: Progress, step: Step) -> None:
        key, now = id(step), self.clock()
        state = self._seen.get(key)
        if state is None:
            self._seen[key] = state = [now, 0]
            total = f" ({_count(step.total, step.unit)})" if step.total is not None else ""
            self.write(f"{step.name}: started{total}")
            if step.finished_at is None:
                return
        if step.finished_at is not None:
            self._seen.pop(key, None)
            self.write(self._end(step))
            return
        last_line, last_bucket = state
        if step.total:
            bucket = min(step.completed * 100 // step.total // self.every_percent, 100)
            if (
                bucket > last_bucket
                and now - last_line >= self.min_interval
                and bucket * self.every_percent < 100
            ):
                state[:] = [now, bucket]
                self.write(self._line(step, bucket * self.every_percent))
                return
        if now - last_line >= self.every_seconds:
            state[0] = now
            self.write(self._line(step, None))

    def _line(self, step: Step, percent: int | None) -> str:
        elapsed = time.time() - step.started_at
        if percent is None or not step.total:
            done = _count(step.completed, step.unit)
            if step.total:
                done = f"{step.completed:,}/{_count(step.total, step.unit)}"
            return f"{step.name}: {done} so far ({elapsed:.1f} s)"
        counts = f"{step.completed:,}/{_count(step.total, step.unit)}"
        return f"{step.name}: {percent}% ({counts}, {elapsed:.1f} s)"

    def _end(self, step: Step) -> str:
        seconds = (step.finished_at or time.time()) - step.started_at
        if step.status == "DONE" and step.total is None and not step.completed:
            return f"{step.name}: done in {seconds:.1f} s"  # a step that counts nothing
        if step.status == "DONE":
            return f"{step.name}: done, {_count(step.completed, step.unit)} in {seconds:.1f} s"
        of = f"/{step.total:,}" if step.total is not None else ""
        done = f"{step.completed:,}{of}" + (f" {step.unit}" if step.unit else "")
        return f"{step.name}: {step.status} after {seconds:.1f} s ({done})"


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Bar:
    """Progress bars on a terminal (rich), one per step, removed when the job's steps end."""

    def __init__(self, stream: IO[str] | None = None):
        from rich.console import Console
        from rich.progress import Progress as RichProgress

        self.bar = RichProgress(transient=True, console=Console(file=stream or sys.stderr))
        self.tasks: dict[int, int] = {}

    def __call__(self, progress: Progress, step: Step) -> None:
        if not self.bar.live.is_started:
            self.bar.start()
        key = id(step)
        if key not in self.tasks:
            label = f"{step.name} ({step.unit})" if step.unit else step.name
            self.tasks[key] = self.bar.add_task(label, total=step.total)
        self.bar.update(self.tasks[key], completed=step.completed)
        if step.finished_at and all(s.finished_at for s in progress.steps):
            self.bar.stop()


def console(stream: IO[str] | None = None) -> Listener:
    """The listener for a person or a log: bars on a terminal, ``LogLines`` otherwise."""
    stream = stream or sys.stderr
    if stream.isatty():
        return Bar(stream)
    return LogLines(lambda line: print(line, file=stream, flush=True))
