"""One thread per host keeps a long poll open and turns VM changes into events.

Only what can mean a lost node triggers a cycle: a VM carrying a node's marks destroyed,
powered off, or no longer connected, its guest reporting it is not ready or its Tools
heartbeat lost, and a host that stops answering or comes back. A node VM
appearing or powering on is our own restoration at work and triggers nothing. When a host
stops answering, the thread reconnects with a growing pause; when it is back, the VMs it no
longer has are reported as destroyed.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from ..esxi.endpoint import Endpoint
from ..esxi.errors import EsxiError
from ..esxi.session import HostSession, open_session
from ..esxi.watch import VmChange, VmState, VmWatch

__all__ = ["Event", "HostWatcher", "classify"]

_MAX_WAIT = 30  # seconds a long poll stays open; idle cost is one call per this
_BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)


@dataclass(frozen=True)
class Event:
    kind: str  # vm_destroyed, vm_powered_off/on, vm_disconnected, vm_devices_changed,
    # vm_not_ready, vm_heartbeat_lost, vm_guest_ready, host_*
    host: str
    at: float  # time.monotonic() when the healer saw it
    vm: VmState | None = None
    detail: str | None = None


def classify(host: str, change: VmChange, at: float, initial: bool = False) -> Event | None:
    """The event a change means for healing, or None. Only VMs with node marks count; a VM
    that appears after the first answer is being made (a restoration) and counts only once it
    changes."""
    vm = change.after
    if "node" not in vm.marks or "cluster" not in vm.marks:
        return None
    before = change.before
    if change.kind == "leave":
        return Event("vm_destroyed", host, at, vm)
    if change.kind == "enter" and not initial:
        return None
    if vm.connection_state not in ("", "connected") and (
        before is None or before.connection_state != vm.connection_state
    ):
        return Event("vm_disconnected", host, at, vm, vm.connection_state)
    if before is not None and before.power_state == vm.power_state:
        if before.devices != vm.devices:  # (ESXi also flips a NIC's connected at power on/off)
            return Event("vm_devices_changed", host, at, vm, "; ".join(vm.devices))
        return _guest_event(host, change, at)
    if before is None and vm.power_state == "poweredOn":  # already unwell when we start
        return _guest_event(host, change, at)
    if vm.power_state in ("poweredOff", "suspended"):
        return Event("vm_powered_off", host, at, vm, vm.power_state)
    if vm.power_state == "poweredOn" and before is not None:
        return Event("vm_powered_on", host, at, vm)
    return None


def _guest_event(host: str, change: VmChange, at: float) -> Event | None:
    """What the guest says (its readiness report) or shows (its Tools heartbeat): turned bad
    (``vm_not_ready``, ``vm_heartbeat_lost``: a reset after the grace period) or good again
    (``vm_guest_ready``: nothing to time any more)."""
    from ..photon.cluster.guest import parse_report  # pure: no pyVmomi, no grpc

    vm, before = change.after, change.before
    report = parse_report(vm.guest.get("status"))
    earlier = parse_report(before.guest.get("status")) if before is not None else None
    now, was = (r.phase if r is not None else "" for r in (report, earlier))
    beat_before = before.heartbeat if before is not None else ""
    if vm.heartbeat == "red" and beat_before != "red":
        return Event("vm_heartbeat_lost", host, at, vm, "VMware Tools heartbeat red")
    if report is not None and now in ("failing", "failed") and was != now:
        return Event("vm_not_ready", host, at, vm, f"{now}: {report.reason}")
    if (now == "ready" and was in ("failing", "failed")) or (
        beat_before == "red" and vm.heartbeat == "green"
    ):
        return Event("vm_guest_ready", host, at, vm)
    return None


class HostWatcher(threading.Thread):
    """Watches one host until the process ends (a daemon thread: nothing to flush)."""

    def __init__(
        self, endpoint: Endpoint, events: queue.Queue[Event], session: HostSession | None
    ) -> None:
        super().__init__(name=f"watch-{endpoint.name}", daemon=True)
        self.endpoint = endpoint
        self.events = events
        self._session: HostSession | None = session
        self._known: dict[str, VmState] = {}  # the VMs last seen, to compare after an outage
        self._lost = False

    def run(self) -> None:
        failures = 0
        while True:
            try:
                session = self._session or open_session(self.endpoint)
                self._session = None
                failures = 0
                self._watch(session)
            except EsxiError as exc:
                if not self._lost:
                    self._lost = True
                    self._put("host_unreachable", detail=exc.message)
                time.sleep(_BACKOFF[min(failures, len(_BACKOFF) - 1)])
                failures += 1

    def _watch(self, session: HostSession) -> None:
        watch = VmWatch(session)
        try:
            first = watch.wait(_MAX_WAIT)
            if self._lost:
                self._lost = False
                self._put("host_back")
                for moid in self._known.keys() - watch.vms.keys():
                    self._put("vm_destroyed", self._known[moid])
            for change in first:  # nodes already off or disconnected when we start
                self._report(change, initial=True)
            while True:
                self._known = dict(watch.vms)
                for change in watch.wait(_MAX_WAIT):
                    self._report(change)
        finally:
            watch.close()
            session.close()

    def _report(self, change: VmChange, initial: bool = False) -> None:
        event = classify(self.endpoint.name, change, time.monotonic(), initial)
        if event is not None:
            self.events.put(event)

    def _put(self, kind: str, vm: VmState | None = None, detail: str | None = None) -> None:
        self.events.put(Event(kind, self.endpoint.name, time.monotonic(), vm, detail))
