"""Waiting for ESXi tasks: all of them at once, reading only ``info.state``/``info.error``.

The states come from the PropertyCollector, not from attribute access on the task: the
simulator names non-entities in ``info.entity``, which pyVmomi's attribute reads choke on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim

from .collector import properties_of
from .errors import EsxiError, StoppedWaiting
from .session import HostSession

__all__ = ["TaskOutcome", "wait_for_tasks"]

_FIRST_POLL, _MAX_POLL = 0.01, 0.5


@dataclass(frozen=True)
class TaskOutcome:
    error: Exception | None  # the fault the task ended with, or StoppedWaiting
    result: Any = None  # info.result of a successful task (a new VM, a path, ...)


def wait_for_tasks(
    session: HostSession, tasks: Sequence[vim.Task], stop: threading.Event | None = None
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
