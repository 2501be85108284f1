"""Waiting for ESXi tasks: all of them at once, reading only ``info.state``/``info.error``.

The states come from the PropertyCollector, not from attribute access on the task: the
simulator names non-entities in ``info.entity``, which pyVmomi's attribute reads choke on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from .errors import EsxiError
from .session import HostSession

__all__ = ["StoppedWaiting", "TaskOutcome", "wait_for_tasks"]

_FIRST_POLL, _MAX_POLL = 0.01, 0.5


class StoppedWaiting(EsxiError):
    """Terraform asked us to stop; the task goes on on the host, unobserved."""


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
    collector = session.content.propertyCollector
    delay = _FIRST_POLL
    while pending:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=t) for t in pending.values()],
            propSet=[
                vmodl.query.PropertyCollector.PropertySpec(
                    type=vim.Task, pathSet=["info.state", "info.error", "info.result"]
                )
            ],
        )
        for item in collector.RetrieveContents([spec]):
            props = {p.name: p.val for p in item.propSet}
            state = props.get("info.state")
            if state in (vim.TaskInfo.State.success, vim.TaskInfo.State.error):
                outcome[item.obj._moId] = (
                    TaskOutcome(props.get("info.error") or EsxiError(session.name, "task failed"))
                    if state == "error"
                    else TaskOutcome(None, props.get("info.result"))
                )
                pending.pop(item.obj._moId, None)
        if pending and stop.wait(delay):  # sleeps between polls, wakes at once on stop
            for moid in pending:
                stopped = StoppedWaiting(session.name, f"stopped waiting for task {moid}")
                outcome[moid] = TaskOutcome(stopped)
            break
        delay = min(delay * 2, _MAX_POLL)
    return outcome
