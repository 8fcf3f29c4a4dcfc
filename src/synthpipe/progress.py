"""Progress and cancellation for long work: training and generation report steps through this.

The engine creates one ``Progress`` per job; generators call ``step`` when a step starts and
``advance`` as they go. ``cancel()`` (from a signal handler, an Airflow ``on_kill`` or another
thread) makes the next ``advance``/``check`` raise ``CanceledError`` so work stops at a clean
point and nothing half-written is kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from synthpipe.errors import CanceledError


@dataclass
class Step:
    """One step of a job (load, analyze, train per table, generate per table)."""

    name: str
    total: int | None = None
    completed: int = 0
    status: str = "IN_PROGRESS"
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "total": self.total,
            "completed": self.completed,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


Listener = Callable[["Progress", Step], None]


class Progress:
    """Steps of one job, with listeners (progress bars, status files) and a cancel flag."""

    def __init__(self, listeners: list[Listener] | None = None):
        self.steps: list[Step] = []
        self.listeners = list(listeners or [])
        self._cancel = threading.Event()

    @property
    def current(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    def step(self, name: str, total: int | None = None) -> Step:
        """Close the running step and start a new one."""
        self.check()
        self._finish_current("DONE")
        step = Step(name=name, total=total)
        self.steps.append(step)
        self._notify(step)
        return step

    def advance(self, n: int = 1) -> None:
        """Record progress on the running step; raises CanceledError after a cancel."""
        self.check()
        if self.current is not None:
            self.current.completed += n
            self._notify(self.current)

    def done(self, status: str = "DONE") -> None:
        """Close the running step."""
        self._finish_current(status)

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
        step = self.current
        if step is not None and step.finished_at is None:
            step.status = status
            step.finished_at = time.time()
            if step.total is not None and status == "DONE":
                step.completed = step.total
            self._notify(step)

    def _notify(self, step: Step) -> None:
        for listener in self.listeners:
            listener(self, step)
