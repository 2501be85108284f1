"""Watching a host's VMs: one long poll (``WaitForUpdatesEx``) on a container view.

A healer must notice a node VM destroyed, powered off or disconnected, or its guest's report or
Tools heartbeat turning bad, within about a second,
without reading the whole inventory again and again. The PropertyCollector's long poll does
that: after one initial answer (every VM "enters"), each call returns only what changed, or
nothing when ``max_wait`` passes. The watch has its own collector, so its filter never meets
the ones the inventory reads create, and its own view, destroyed on ``close``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pyVmomi import vim, vmodl

from .collector import updates_since
from .faults import translated
from .inventory import attachments_of, guest_vars_of, marks_of
from .session import HostSession

__all__ = ["VmChange", "VmState", "VmWatch"]

_PROPERTIES = (
    "name",
    "runtime.powerState",
    "runtime.connectionState",
    "config.extraConfig",
    "config.hardware.device",
    "guestHeartbeatStatus",
)
_PC = vmodl.query.PropertyCollector


@dataclass(frozen=True)
class VmState:
    """What the watch knows of one VM; ``marks`` are its ``photon.*`` extraConfig keys."""

    moid: str
    name: str = ""
    power_state: str = ""
    connection_state: str = "connected"
    marks: Mapping[str, str] = field(default_factory=dict)
    devices: tuple[str, ...] = ()  # its disks' files and NICs' port groups and connection
    guest: Mapping[str, str] = field(default_factory=dict)  # ``guestinfo.photon.*``
    heartbeat: str = ""  # VMware Tools: green, yellow, red, gray


@dataclass(frozen=True)
class VmChange:
    """``enter`` (seen first), ``modify`` or ``leave`` (destroyed); ``before`` is what the
    watch knew until then (None on enter), ``after`` what it knows now (for leave: before)."""

    kind: str
    before: VmState | None
    after: VmState


class VmWatch:
    """One host's VMs, as a stream of changes; ``wait`` blocks up to ``max_wait`` seconds."""

    def __init__(self, session: HostSession) -> None:
        self.session = session
        self.vms: dict[str, VmState] = {}
        self._version = ""
        content = session.content
        with translated(session.name):
            self._collector = content.propertyCollector.CreatePropertyCollector()
            self._view = content.viewManager.CreateContainerView(
                content.rootFolder, [vim.VirtualMachine], recursive=True
            )
            self._collector.CreateFilter(self._filter_spec(), partialUpdates=False)

    def _filter_spec(self) -> vmodl.query.PropertyCollector.FilterSpec:
        return _PC.FilterSpec(
            objectSet=[
                _PC.ObjectSpec(
                    obj=self._view,
                    skip=True,
                    selectSet=[
                        _PC.TraversalSpec(
                            name="view", path="view", skip=False, type=vim.view.ContainerView
                        )
                    ],
                )
            ],
            propSet=[_PC.PropertySpec(type=vim.VirtualMachine, pathSet=list(_PROPERTIES))],
        )

    def wait(self, max_wait: int) -> list[VmChange]:
        """Changes since the last call; [] when nothing changed within ``max_wait``. A
        truncated answer is followed at once by the next call, as the API asks."""
        with translated(self.session.name):
            self._version, found = updates_since(self._collector, self._version, max_wait)
        return [self._apply(update) for update in found]

    def _apply(self, update: vmodl.query.PropertyCollector.ObjectUpdate) -> VmChange:
        moid = update.obj._moId
        before = self.vms.get(moid)
        if update.kind == "leave":
            self.vms.pop(moid, None)
            return VmChange("leave", before, before or VmState(moid))
        after = before or VmState(moid)
        for change in update.changeSet or ():
            after = _changed(after, change.name, change.val)
        self.vms[moid] = after
        return VmChange("enter" if before is None else "modify", before, after)

    def close(self) -> None:
        """Best effort: a host that is gone takes its collector and view with it."""
        with contextlib.suppress(Exception):
            self._collector.DestroyPropertyCollector()
        with contextlib.suppress(Exception):
            self._view.DestroyView()


def _changed(state: VmState, name: str, value: object) -> VmState:
    if name == "name":
        return replace(state, name=str(value or ""))
    if name == "runtime.powerState":
        return replace(state, power_state=str(value or ""))
    if name == "runtime.connectionState":
        return replace(state, connection_state=str(value or ""))
    if name == "config.extraConfig":
        options = value or ()
        return replace(state, marks=marks_of(options), guest=guest_vars_of(options))  # type: ignore[arg-type]
    if name == "guestHeartbeatStatus":
        return replace(state, heartbeat=str(value or ""))
    if name == "config.hardware.device":
        return replace(state, devices=_attachments(value or ()))  # type: ignore[arg-type]
    return state


def _attachments(devices: list[vim.vm.device.VirtualDevice]) -> tuple[str, ...]:
    """What a node's health depends on among its devices (as the inventory reads them), as
    comparable text."""
    nics, disks = attachments_of(devices)
    return tuple(f"disk {d.file}" for d in disks) + tuple(
        f"nic {n.network} connected={n.connected} at-power-on={n.start_connected}" for n in nics
    )
