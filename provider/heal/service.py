"""The healer's main loop: events in, guarded cycles out, one at a time.

Cycles run on the main thread only, so two never overlap in one healer; across healers the
state lock and Terraform's stale-plan check keep them apart. A cycle runs once at start, every
``interval`` as a safety net (events can be missed, hosts restart), ``debounce`` after an event
that may mean a lost node (a burst of events makes one cycle), and when the grace period of a
powered-off or not ready node is due. Between cycles nothing runs but the watch threads' long
polls.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from .cycle import CLEAN, ERROR, REFUSED, RESTORED, CycleResult, run_cycle
from .guard import Restoration
from .logs import log
from .metrics import Metrics
from .terraform import Terraform
from .watcher import Event

__all__ = ["Healer", "Timing"]

_TRIGGERS = {
    "vm_destroyed", "vm_powered_off", "vm_disconnected", "vm_devices_changed",
    "vm_not_ready", "vm_heartbeat_lost", "host_unreachable", "host_back",
}  # fmt: skip
# May be put right only after a grace period (powered on, repaired, reset).
_GRACED = {"vm_powered_off", "vm_devices_changed", "vm_not_ready", "vm_heartbeat_lost"}
_BACK = {"vm_powered_on", "vm_guest_ready"}  # well again by itself: nothing to time
_TICK = 1.0  # the loop looks at the stop flag at least this often (signals only set it)
_DUE_MARGIN = 3.0  # the provider starts a node's grace period at its first plan, a bit later
NodeKey = tuple[str, str, str]  # tenant, cluster, node


@dataclass(frozen=True)
class Timing:
    interval: float
    debounce: float


class Healer:
    def __init__(self, tf: Terraform, metrics: Metrics, timing: Timing) -> None:
        self.tf = tf
        self.metrics = metrics
        self.timing = timing
        self.events: queue.Queue[Event] = queue.Queue()
        self.stop = threading.Event()
        self._detected: dict[NodeKey | str, float] = {}  # node or host -> first seen lost
        self._off_since: dict[NodeKey, float] = {}  # nodes waiting out their grace
        self._pending: dict[NodeKey | str, float] = {}  # what a coming cycle is for
        self._due: float | None = None  # next event-driven cycle
        self._recheck: float | None = None  # next grace-period check
        self._backoff = 0.0
        self._cycles = 0

    # -- signals ------------------------------------------------------------------------

    def install_signals(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Stop watching; a running terraform gets one SIGINT and is waited for."""
        if not self.stop.is_set():
            self.stop.set()
            self.tf.interrupt()

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> int:
        next_safety = time.monotonic()  # once at start
        while not self.stop.is_set():
            now = time.monotonic()
            reason = self._reason(now, next_safety)
            if reason:
                self._cycle(reason)
                if reason == "interval" or reason == "start":
                    next_safety = time.monotonic() + self.timing.interval
                continue
            wake = min(t for t in (next_safety, self._due, self._recheck) if t is not None)
            with contextlib.suppress(queue.Empty):
                self._handle(self.events.get(timeout=max(0.0, min(_TICK, wake - now))))
        log("stopped", reason="signal")
        return 0

    def _reason(self, now: float, next_safety: float) -> str | None:
        if next_safety <= now:
            return "start" if self._cycles == 0 else "interval"
        if self._due is not None and self._due <= now:
            return "event"
        if self._recheck is not None and self._recheck <= now:
            return "grace_due"
        return None

    def _handle(self, event: Event) -> None:
        vm = event.vm
        key: NodeKey | str = event.host
        if vm is not None:
            key = (vm.marks.get("tenant", ""), vm.marks.get("cluster", ""), vm.marks["node"])
        log(
            event.kind, host=event.host, detail=event.detail,
            tenant=vm and vm.marks.get("tenant"), cluster=vm and vm.marks.get("cluster"),
            node=vm and vm.marks.get("node"), role=vm and vm.marks.get("role"),
            vm_id=vm and vm.moid,
        )  # fmt: skip
        self.metrics.events.labels(event.kind).inc()
        if isinstance(key, tuple):
            if event.kind in _GRACED:
                self._off_since.setdefault(key, event.at)
            else:
                self._off_since.pop(key, None)
            if event.kind in _BACK:
                self._detected.pop(key, None)
        if event.kind in _TRIGGERS:
            self._detected.setdefault(key, event.at)
            self._pending.setdefault(key, event.at)
            due = event.at + self.timing.debounce
            self._due = due if self._due is None else min(self._due, due)

    def _cycle(self, reason: str) -> None:
        self._cycles += 1
        started = time.monotonic()
        seen_before = dict(self._pending)
        self._due = self._recheck = None
        result = run_cycle(self.tf, bool(self._off_since), log_applying)
        self._report(reason, result)
        if self.stop.is_set():
            return
        if result.outcome == ERROR:
            self._backoff = min(max(self._backoff * 2, 5.0), self.timing.interval)
            self._due = time.monotonic() + self._backoff
            return
        self._backoff = 0.0
        self._forget(seen_before, started, result)
        self._schedule_grace(result)

    def _forget(
        self, seen: dict[NodeKey | str, float], started: float, result: CycleResult
    ) -> None:
        """Drop what this cycle dealt with: triggers seen before it started, and events
        during it about the nodes it restored (their remnants being removed)."""
        restored = {(r.tenant, r.cluster, r.node) for r in result.restorations}
        if result.outcome != RESTORED:
            restored = set()
        for key, at in list(self._pending.items()):
            if key in seen or (at >= started and key in restored):
                del self._pending[key]
        for key in restored:
            self._off_since.pop(key, None)
        if self._pending:  # something new happened while the cycle ran
            self._due = max(self._pending.values()) + self.timing.debounce

    def _schedule_grace(self, result: CycleResult) -> None:
        """Come back when a powered-off node's (or a lost NIC's) grace period should be
        over; a node the plan found ready again needs no visit."""
        if result.unhealthy is not None:
            for key in [k for k in self._off_since if k not in result.unhealthy]:
                del self._off_since[key]
        now = time.monotonic()
        times = []
        for key, since in self._off_since.items():
            grace = result.grace.get(key[:2])
            if grace is None:
                continue
            due = since + grace + self.timing.debounce + _DUE_MARGIN
            times.append(due if due > now else now + max(2.0, min(grace / 4, 60.0)))
        self._recheck = min(times) if times else None

    # -- reporting ----------------------------------------------------------------------

    def _report(self, reason: str, result: CycleResult) -> None:
        report_cycle(self.metrics, reason, result, self._detected)


def log_applying(restorations: list[Restoration]) -> None:
    log(
        "applying",
        nodes=[f"{r.tenant}/{r.cluster}/{r.node}" for r in restorations],
        actions=sorted({r.action for r in restorations}),
    )


def report_cycle(
    metrics: Metrics,
    reason: str,
    result: CycleResult,
    detected: dict[NodeKey | str, float] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """One log line for the cycle, one per restoration or refusal; the metrics to match."""
    detected = detected if detected is not None else {}
    metrics.cycles.labels(result.outcome).inc()
    level = {ERROR: "error", REFUSED: "warning"}.get(result.outcome, "info")
    log(
        "cycle", level, reason=reason, outcome=result.outcome, seconds=result.seconds,
        restored=len(result.restorations) if result.outcome == RESTORED else None,
        error=result.error,
    )  # fmt: skip
    if result.outcome in (CLEAN, RESTORED):
        metrics.last_success.set_to_current_time()
    if result.outcome == REFUSED:
        metrics.refused.inc()
        log("refused", "warning", blocked_by=result.refusals)
    if result.outcome != RESTORED:
        return
    now = clock()
    for r in result.restorations:
        at = detected.pop((r.tenant, r.cluster, r.node), None) or detected.get(r.host)
        seconds = round(now - at, 3) if at is not None else None
        if seconds is not None:
            metrics.detection_to_restore.observe(seconds)
        metrics.restored.labels(r.role, r.action).inc()
        log(
            "restored", address=r.address, tenant=r.tenant, cluster=r.cluster, node=r.node,
            role=r.role, host=r.host, seen=r.seen, action=r.action,
            seconds_from_detection=seconds,
        )  # fmt: skip
    for r in result.restorations:
        detected.pop(r.host, None)
