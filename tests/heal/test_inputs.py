"""The healer's small pure parts: durations, addresses, watch files, which changes trigger."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from provider.esxi.watch import VmChange, VmState
from provider.heal.cli import parse_seconds
from provider.heal.hosts import BadInput, endpoints_from_environment, read_watch_file
from provider.heal.metrics import Metrics, loopback_address
from provider.heal.watcher import classify


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("2s", 2), ("1h30m", 5400), ("500ms", 0.5), ("0.5s", 0.5), ("60", 60)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_seconds(text) == seconds


def test_a_bad_duration() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_seconds("soon")


@pytest.mark.parametrize("text", ["0.0.0.0:9464", "10.0.0.1:9464", "127.0.0.1", "[::1]:0"])
def test_metrics_only_on_loopback(text: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        loopback_address(text)


def test_loopback_addresses() -> None:
    assert loopback_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert loopback_address("[::1]:9464") == ("::1", 9464)


def _watch(tmp_path: Path, hosts: list[dict], mode: int = 0o600) -> Path:
    path = tmp_path / "watch.json"
    path.write_text(json.dumps({"hosts": hosts}))
    path.chmod(mode)
    return path


def test_a_watch_file_with_a_password_from_the_environment(tmp_path: Path) -> None:
    host = {"name": "esx-1", "address": "127.0.0.1:8443", "password_env": "PW", "insecure": True}
    (endpoint,) = read_watch_file(_watch(tmp_path, [host]), {"PW": "s3cret"})
    assert endpoint.password == "s3cret" and endpoint.user == "root" and endpoint.insecure
    assert "s3cret" not in repr(endpoint)


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ({"name": "a", "address": "x"}, 'hosts[0] (a) needs "password" or "password_env"'),
        ({"name": "a", "address": "x", "password_env": "NOPE"}, "NOPE is not set"),
        ({"name": "a", "password": "p"}, "hosts[0] needs a address"),
        ({"name": "a", "address": "x", "password": "p", "port": 1}, "unknown fields ['port']"),
    ],
)
def test_bad_watch_files(tmp_path: Path, host: dict, message: str) -> None:
    with pytest.raises(BadInput, match=re.escape(message)):
        read_watch_file(_watch(tmp_path, [host]), {})


def test_a_group_readable_watch_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="mode 0640"):
        read_watch_file(_watch(tmp_path, [], 0o640), {})


NODE = {"tenant": "t", "cluster": "c", "node": "worker-1", "role": "worker"}
ON = VmState("vm-1", "n", "poweredOn", "connected", NODE)
FAILING = '{"phase": "failing", "reason": "kubelet unhealthy for 30s"}'
READY_REPORT = '{"phase": "ready"}'


def guest(report: str, heartbeat: str = "green") -> VmState:
    """The node VM, on, with what its guest says (its report) and shows (its heartbeat)."""
    return VmState("vm-1", "n", "poweredOn", "connected", NODE, (), {"status": report}, heartbeat)


READY = guest(READY_REPORT)


@pytest.mark.parametrize(
    ("change", "initial", "kind"),
    [
        (VmChange("leave", ON, ON), False, "vm_destroyed"),
        (VmChange("modify", ON, VmState("vm-1", "n", "poweredOff", "connected", NODE)), False,
         "vm_powered_off"),
        (VmChange("modify", ON, VmState("vm-1", "n", "poweredOn", "orphaned", NODE)), False,
         "vm_disconnected"),
        (VmChange("enter", None, VmState("vm-1", "n", "poweredOff", "connected", NODE)), True,
         "vm_powered_off"),
        (VmChange("enter", None, VmState("vm-1", "n", "poweredOff", "connected", NODE)), False,
         None),  # a VM being made by a restoration
        (VmChange("modify", ON, VmState("vm-1", "m", "poweredOn", "connected", NODE)), False, None),
        (VmChange("leave", None, VmState("vm-2")), False, None),  # not a node
        (VmChange("modify", ON, VmState("vm-1", "n", "poweredOn", "connected", NODE,
                                        ("nic VM Network connected=False",))), False,
         "vm_devices_changed"),
        (VmChange("modify", READY, guest(FAILING)), False, "vm_not_ready"),
        (VmChange("modify", READY, guest('{"phase": "failed"}')), False, "vm_not_ready"),
        (VmChange("modify", guest(FAILING), guest(FAILING)), False, None),  # said already
        (VmChange("modify", guest(FAILING), READY), False, "vm_guest_ready"),
        (VmChange("modify", READY, guest(READY_REPORT, "red")), False, "vm_heartbeat_lost"),
        (VmChange("modify", guest(READY_REPORT, "red"), guest(READY_REPORT, "green")), False,
         "vm_guest_ready"),
        (VmChange("modify", READY, guest(READY_REPORT, "gray")), False, None),
        (VmChange("enter", None, guest(FAILING)), True, "vm_not_ready"),  # unwell at start
        (VmChange("enter", None, READY), True, None),
    ],
)  # fmt: skip
def test_which_changes_trigger(change: VmChange, initial: bool, kind: str | None) -> None:
    event = classify("esx-1", change, 1.0, initial)
    assert (event.kind if event else None) == kind


def test_the_environment_describes_one_host_as_for_the_provider() -> None:
    env = {"PHOTON_HOST": "127.0.0.1:8443", "PHOTON_PASSWORD": "pw", "PHOTON_INSECURE": "true"}
    (endpoint,) = endpoints_from_environment(env)
    assert (endpoint.name, endpoint.address, endpoint.user) == ("esx-1", "127.0.0.1:8443", "root")
    assert endpoint.insecure and endpoint.thumbprint is None
    pinned = endpoints_from_environment({**env, "PHOTON_THUMBPRINT": "AB:CD"})[0]
    assert not pinned.insecure and pinned.thumbprint  # a thumbprint wins over insecure


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no hosts to watch: give --watch FILE, or set PHOTON_HOST"),
        ({"PHOTON_HOST": "h:443"}, "PHOTON_HOST is set but PHOTON_PASSWORD is not"),
    ],
)
def test_an_incomplete_environment_is_one_line(env: dict, message: str) -> None:
    with pytest.raises(BadInput) as raised:
        endpoints_from_environment(env)
    assert str(raised.value) == message


def test_metrics_are_served_on_loopback_in_prometheus_text() -> None:
    import socket
    import urllib.request

    with socket.socket() as probe_socket:  # a free port on loopback
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    metrics = Metrics()
    metrics.cycles.labels("restored").inc()
    metrics.restored.labels("worker", "replace").inc()
    metrics.detection_to_restore.observe(7.5)
    server = metrics.serve(f"127.0.0.1:{port}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'photon_heal_cycles_total{outcome="restored"} 1.0' in text
    assert 'photon_heal_nodes_restored_total{action="replace",role="worker"} 1.0' in text
    assert 'photon_heal_detection_to_restore_seconds_bucket{le="10.0"} 1.0' in text
