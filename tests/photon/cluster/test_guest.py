"""How a node's guest is judged: its own report and its VMware Tools heartbeat (guest.py)."""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest

from provider.esxi.inventory import VmInfo
from provider.photon.cluster.guest import (
    GuestSeen,
    Reset,
    boot_key,
    green_boot,
    judge_guest,
    parse_report,
)

NOW = datetime.datetime(2026, 12, 5, 12, 0, tzinfo=datetime.UTC)
STARTUP = datetime.timedelta(minutes=10)


def vm(
    report: dict | str | None = None,
    *,
    heartbeat: str = "",
    booted: float | None = 60,
    marked: bool = True,
) -> VmInfo:
    """A running node VM, powered on ``booted`` seconds before NOW."""
    guest = {}
    if report is not None:
        guest["status"] = report if isinstance(report, str) else json.dumps(report)
    return VmInfo(
        moid="vm-7", name="team-a-prod-worker-1", pool=None,
        marks={"node": "worker-1", **({"reports": "true"} if marked else {})},
        vcpu=2, memory_mb=4096, disk_kb=0, power_state="poweredOn", guest=guest,
        heartbeat=heartbeat,
        boot_time=None if booted is None else NOW - datetime.timedelta(seconds=booted),
    )  # fmt: skip


def report(phase: str, boot: str = "b1", reason: str = "") -> dict:
    return {"phase": phase, "reason": reason, "version": "1.32.3", "boot": boot}


SEEN = GuestSeen(NOW, STARTUP)


def seen_for(since: float | None) -> GuestSeen:
    """Judged NOW, the node's boot first seen booting ``since`` seconds ago (None: not yet)."""
    first = None if since is None else NOW - datetime.timedelta(seconds=since)
    return dataclasses.replace(SEEN, booting_since=first)


@pytest.mark.parametrize(
    ("node", "since", "status"),
    [
        (vm(report("ready")), None, "ready"),
        (vm(report("booting")), None, "booting"),  # first seen now
        (vm(None), None, "booting"),  # no report yet
        (vm(None), 599.999, "booting"),
        (vm(None), 600, "never_ready"),  # the boundary: startup_timeout has passed
        (vm(report("booting")), 3600, "never_ready"),
        # Timed from when we saw the boot, not from the host's power-on time (a reboot in the
        # guest keeps it; the host's clock may be off): an old power-on is no timeout.
        (vm(report("booting"), booted=86400), 5, "booting"),
        (vm(report("failing", reason="kubelet unhealthy for 30s")), None, "not_ready"),
        (vm(report("failed", reason="cloud-init: runcmd failed")), None, "not_ready"),
        (vm(report("ready"), heartbeat="red"), None, "guest_hung"),  # the guest may be hung
        (vm(report("ready"), heartbeat="gray"), None, "ready"),  # Tools never seen running
        (vm(report("ready"), heartbeat="green"), None, "ready"),
        (vm("not json"), None, "booting"),  # not a report: as none
        (vm(json.dumps({"phase": "fine"})), None, "booting"),
        (vm(None, booted=None), 60, "booting"),
        (vm(None, booted=3600, marked=False), 3600, "ready"),  # made before the report
        (vm(None, booted=3600, marked=False, heartbeat="red"), None, "guest_hung"),
    ],
)
def test_each_status(node: VmInfo, since: float | None, status: str) -> None:
    assert judge_guest(node, seen_for(since))[0] == status


def test_the_reasons_say_what_the_node_said() -> None:
    failing = vm(report("failing", reason="apiserver unhealthy for 30s"))
    assert judge_guest(failing, SEEN) == (
        "not_ready", "it reports failing: apiserver unhealthy for 30s"
    )  # fmt: skip
    assert judge_guest(vm(None), seen_for(601))[1] == (
        "it has not reported ready within 10m of its boot (health.startup_timeout)"
    )
    assert judge_guest(vm(report("ready")), SEEN) == ("ready", "")


def test_gray_after_green_in_the_same_boot_is_hung_not_in_another() -> None:
    node = vm(report("ready"), heartbeat="gray")
    this_boot = ("vm-7", node.boot_time.isoformat())  # type: ignore[union-attr]
    assert judge_guest(node, dataclasses.replace(SEEN, green=this_boot))[0] == "guest_hung"
    earlier = ("vm-7", (NOW - datetime.timedelta(hours=2)).isoformat())
    assert judge_guest(node, dataclasses.replace(SEEN, green=earlier))[0] == "ready"
    other_vm = ("vm-8", this_boot[1])
    assert judge_guest(node, dataclasses.replace(SEEN, green=other_vm))[0] == "ready"
    # Just reset by us (ESXi may keep the power-on time over a reset): gray while it reboots.
    reset = Reset("vm-7", NOW - datetime.timedelta(minutes=1), "b0")
    rebooting = dataclasses.replace(SEEN, green=this_boot, reset=reset)
    assert judge_guest(node, rebooting)[0] == "ready"
    assert judge_guest(node, dataclasses.replace(rebooting, now=NOW + STARTUP))[0] == "guest_hung"


def test_after_a_reset_a_report_from_before_it_no_longer_counts() -> None:
    reset = Reset("vm-7", NOW - datetime.timedelta(minutes=2), boot="b1")
    seen = dataclasses.replace(SEEN, reset=reset)
    assert judge_guest(vm(report("failing", boot="b1")), seen)[0] == "booting"
    assert judge_guest(vm(report("ready", boot="b1")), seen)[0] == "booting"
    assert judge_guest(vm(report("ready", boot="b2")), seen)[0] == "ready"
    assert judge_guest(vm(report("failing", boot="b2")), seen)[0] == "not_ready"
    # The startup timeout counts from the reset, however long the boot was seen before.
    long_seen = dataclasses.replace(seen, booting_since=NOW - datetime.timedelta(hours=1))
    assert judge_guest(vm(None), long_seen)[0] == "booting"
    later = dataclasses.replace(long_seen, now=reset.at + STARTUP)
    assert judge_guest(vm(None), later)[0] == "never_ready"
    # A reset of another VM (the node was replaced since) does not count.
    other = dataclasses.replace(SEEN, reset=Reset("vm-9", reset.at, boot="b1"))
    assert judge_guest(vm(report("failing", boot="b1")), other)[0] == "not_ready"


def test_parse_report() -> None:
    assert parse_report(json.dumps(report("ready"))) == parse_report(
        '{"phase":"ready","reason":"","version":"1.32.3","boot":"b1"}'
    )
    assert parse_report(None) is None and parse_report("") is None
    assert parse_report("[1]") is None and parse_report('{"phase": 3}') is None
    long = parse_report(json.dumps({"phase": "failed", "reason": "x" * 500}))
    assert long is not None and len(long.reason) == 200


def test_green_boot() -> None:
    assert green_boot(vm(heartbeat="green")) == (
        "vm-7", (NOW - datetime.timedelta(seconds=60)).isoformat()
    )  # fmt: skip
    assert green_boot(vm(heartbeat="gray")) is None and green_boot(vm(heartbeat="red")) is None


def test_a_boot_is_told_by_its_report_and_its_power_on() -> None:
    node = vm(report("booting", boot="b2"))
    assert boot_key(node, None) == f"b2|vm-7|{node.boot_time.isoformat()}"  # type: ignore[union-attr]
    rebooted = vm(report("booting", boot="b3"))  # a reboot inside the guest: same power-on
    assert boot_key(rebooted, None) != boot_key(node, None)
    stale = Reset("vm-7", NOW, boot="b2")  # a report from before our reset is not this boot's
    assert boot_key(node, stale).startswith("|vm-7|")
