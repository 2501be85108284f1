"""What a node's guest says of itself, and what its host sees of the guest: pure.

A node VM made with the readiness report (marked ``photon.reports``) runs
``kubernetes/node_report.py``, which writes ``guestinfo.photon.status`` (JSON: ``phase``
booting|ready|failing|failed, ``reason``, ``version``, ``boot`` — an id new at each boot) on
every transition. The host shows it in the VM's ``config.extraConfig``, which the inventory
read already brings, beside the VMware Tools heartbeat and the last power-on.

For a VM that is on and whose NIC and disk are in place, ``judge_guest`` says, worst first:
- ``guest_hung``: its Tools heartbeat is red, or gray after it had been green in this boot
  (a VM whose Tools were never seen running is never judged on its heartbeat);
- for a node with the report: ``ready`` when it says so; ``not_ready`` when it says failing or
  failed; ``booting`` while no ready report came within ``startup_timeout`` of when the
  provider first saw that boot (a new report boot id, a new power-on, or our reset: a report
  from before a reset — the same boot id — no longer counts); ``never_ready`` after that.
A node made before the report existed (no mark) is ``ready`` as far as its guest goes.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .health import BOOTING, GUEST_HUNG, NEVER_READY, NOT_READY, READY

if TYPE_CHECKING:
    from ...esxi.inventory import VmInfo

__all__ = [
    "REPORTS_MARK",
    "GuestSeen",
    "NodeReport",
    "Reset",
    "boot_key",
    "current_boot",
    "current_report",
    "green_boot",
    "judge_guest",
    "parse_report",
]

REPORTS_MARK = "reports"  # photon.reports = "true": the node's boot data runs the report
PHASES = ("booting", "ready", "failing", "failed")


@dataclass(frozen=True)
class NodeReport:
    phase: str
    reason: str = ""
    version: str = ""
    boot: str = ""


def parse_report(text: str | None) -> NodeReport | None:
    """The node's report, or None when there is none or it is not one (never trusted blindly:
    anyone who can set guestinfo could write anything)."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("phase") not in PHASES:
        return None
    return NodeReport(
        phase=data["phase"],
        reason=str(data.get("reason") or "")[:200],
        version=str(data.get("version") or ""),
        boot=str(data.get("boot") or ""),
    )


@dataclass(frozen=True)
class Reset:
    """A reset the provider made: of which VM, when, and the boot id its report had then."""

    vm_id: str
    at: datetime.datetime
    boot: str = ""


@dataclass(frozen=True)
class GuestSeen:
    """What judging a guest needs beyond its VM: the time, the policy's startup timeout, the
    node's last reset, and the VM and boot in which its Tools heartbeat was last seen green."""

    now: datetime.datetime
    startup_timeout: datetime.timedelta
    startup_text: str = "10m"
    reset: Reset | None = None
    green: tuple[str, str] | None = None  # (vm_id, boot)
    booting_since: datetime.datetime | None = None  # this boot first seen booting (None: now)


def current_boot(vm: VmInfo) -> str:
    """The VM's current boot, as its last power-on time."""
    return vm.boot_time.isoformat() if vm.boot_time else ""


def green_boot(vm: VmInfo) -> tuple[str, str] | None:
    """The VM and its current boot when its Tools heartbeat is green now: what is kept to
    tell, later, a gray heartbeat after green from Tools never seen running."""
    return (vm.moid, current_boot(vm)) if vm.heartbeat == "green" else None


def current_report(vm: VmInfo, reset: Reset | None) -> NodeReport | None:
    """The node's report of its current boot: one from before our last reset of this VM (the
    same boot id) no longer counts."""
    report = parse_report(vm.guest.get("status"))
    ours = _reset_of(vm, reset)
    if report is not None and ours is not None and report.boot == ours.boot:
        return None
    return report


def boot_key(vm: VmInfo, reset: Reset | None) -> str:
    """What tells one boot of a node from the next, as the host shows it: the report's boot
    id (a reboot inside the guest keeps the VM's power-on time), the VM and its power-on."""
    report = current_report(vm, reset)
    return f"{report.boot if report else ''}|{vm.moid}|{current_boot(vm)}"


def _reset_of(vm: VmInfo, reset: Reset | None) -> Reset | None:
    return reset if reset is not None and reset.vm_id == vm.moid else None


def judge_guest(vm: VmInfo, seen: GuestSeen) -> tuple[str, str]:
    """The node's status as its guest goes, and why (for a warning; "" when ready)."""
    if vm.heartbeat == "red":
        return GUEST_HUNG, "its VMware Tools heartbeat is red (the guest may be hung)"
    reset = _reset_of(vm, seen.reset)
    rebooting = reset is not None and seen.now - reset.at < seen.startup_timeout
    if vm.heartbeat == "gray" and seen.green == (vm.moid, current_boot(vm)) and not rebooting:
        # (ESXi may keep a VM's power-on time over a reset: gray while it reboots is fine)
        return GUEST_HUNG, "its VMware Tools heartbeat went gray after it had been green"
    if vm.marks.get(REPORTS_MARK) != "true":
        return READY, ""
    report = current_report(vm, seen.reset)
    if report is not None and report.phase == "ready":
        return READY, ""
    if report is not None and report.phase in ("failing", "failed"):
        return NOT_READY, f"it reports {report.phase}: {report.reason or 'no reason given'}"
    # Timed by our own clock from when we first saw this boot booting (the host's clock may
    # differ from ours), and never from before our last reset of the VM.
    started = seen.booting_since or seen.now
    if reset is not None:
        started = max(started, reset.at)
    if seen.now - started < seen.startup_timeout:
        return BOOTING, ""
    return NEVER_READY, (
        f"it has not reported ready within {seen.startup_text} of its boot (health.startup_timeout)"
    )
