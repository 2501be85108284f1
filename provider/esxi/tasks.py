"""Waiting for ESXi tasks: all of them at once, reading only ``info.state``/``info.error``.

The states come from the PropertyCollector, not from attribute access on the task: the
simulator names non-entities in ``info.entity``, which pyVmomi's attribute reads choke on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from .collector import properties_of
from .errors import EsxiError, StoppedWaiting
from .session import HostSession

__all__ = ["Graced", "TaskOutcome", "wait_for_tasks"]

_FIRST_POLL, _MAX_POLL = 0.01, 0.5


class Graced:
    """A stop that takes effect ``grace`` seconds after ``stop`` is set: for tasks whose
    result the caller must not lose (a VM being made), finished if they finish soon."""

    def __init__(
        self,
        stop: threading.Event,
        grace: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stop, self.grace, self.clock, self.sleep = stop, grace, clock, sleep
        self._since: float | None = None

    def is_set(self) -> bool:
        if not self.stop.is_set():
            return False
        self._since = self._since if self._since is not None else self.clock()
        return self.clock() - self._since >= self.grace

    def wait(self, timeout: float) -> bool:
        if not self.stop.is_set() and not self.stop.wait(timeout):
            return False
        if not self.is_set():
            self.sleep(timeout)
        return self.is_set()


@dataclass(frozen=True)
class TaskOutcome:
    error: Exception | None  # the fault the task ended with, or StoppedWaiting
    result: Any = None  # info.result of a successful task (a new VM, a path, ...)


def wait_for_tasks(
    session: HostSession,
    tasks: Sequence[vim.Task],
    stop: threading.Event | Graced | None = None,
) -> dict[str, TaskOutcome]:
    """Task moid -> its outcome, for all tasks at once; never raises a task's fault.

    When ``stop`` is set, tasks still running are reported as ``StoppedWaiting``."""
    stop = stop or threading.Event()
    pending = {t._moId: t for t in tasks}
    outcome: dict[str, TaskOutcome] = {}
    delay = _FIRST_POLL
    paths = ["info.state", "info.error", "info.result"]
    while pending:
        for moid, props in properties_of(session, list(pending.values()), vim.Task, paths).items():
            state = props.get("info.state")
            if state in (vim.TaskInfo.State.success, vim.TaskInfo.State.error):
                outcome[moid] = (
                    TaskOutcome(props.get("info.error") or EsxiError(session.name, "task failed"))
                    if state == "error"
                    else TaskOutcome(None, props.get("info.result"))
                )
                pending.pop(moid, None)
        if pending and stop.wait(delay):  # sleeps between polls, wakes at once on stop
            for moid in pending:
                stopped = StoppedWaiting(session.name, f"stopped waiting for task {moid}")
                outcome[moid] = TaskOutcome(stopped)
            break
        delay = min(delay * 2, _MAX_POLL)
    return outcome
