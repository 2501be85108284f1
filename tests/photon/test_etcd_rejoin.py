"""The rejoin step's decisions, retries and reboot check, without etcd; and that it runs on
the oldest Python a node image may carry (3.8)."""

from __future__ import annotations

import glob
import subprocess
from pathlib import Path

import pytest

from provider.photon.cluster.kubernetes import etcd_rejoin
from provider.photon.cluster.kubernetes.etcd_rejoin import EtcdError, decide, rejoin
from tests.support.clock import FakeClock

URL = "https://127.0.0.12:2380"
DEAD = {"ID": "11", "name": "prod-etcd-2", "peerURLs": [URL], "clientURLs": ["x"]}
ADDED = {"ID": "12", "peerURLs": [URL]}  # added by an earlier try, never started: no name
OTHER = {"ID": "13", "name": "prod-etcd-1", "peerURLs": ["https://127.0.0.11:2380"]}


@pytest.mark.parametrize(
    ("listed", "mode", "want"),
    [
        ([OTHER, DEAD], "add", (["11"], True)),  # the dead member out, this node in
        ([OTHER, ADDED], "add", ([], False)),  # added before: keep it, start
        ([OTHER], "add", ([], True)),  # removed before (or never there)
        ([OTHER, DEAD], "remove", (["11"], False)),  # kubeadm adds the node itself
        ([OTHER, ADDED], "remove", (["12"], False)),  # a half-done join's member goes too
        ([OTHER], "remove", ([], False)),
    ],
    ids=["add-dead", "add-added", "add-none", "remove-dead", "remove-added", "remove-none"],
)
def test_decide(listed: list[dict], mode: str, want: tuple[list[str], bool]) -> None:
    assert decide(listed, URL, mode) == want


class FakeGateway:
    """Refuses ``member add`` a few times, as etcd does until members are connected 5 s."""

    def __init__(self, listed: list[dict], refusals: int) -> None:
        self.listed, self.refusals, self.calls = list(listed), refusals, []

    def members(self) -> list[dict]:
        return list(self.listed)

    def remove(self, member_id: str) -> None:
        self.calls.append(f"remove {member_id}")
        self.listed = [m for m in self.listed if m["ID"] != member_id]

    def add(self, peer_url: str) -> str:
        self.calls.append("add")
        if self.refusals:
            self.refusals -= 1
            raise EtcdError("etcdserver: unhealthy cluster")
        self.listed.append({"ID": "99", "peerURLs": [peer_url]})
        return "99"


def test_add_is_retried_until_the_cluster_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(etcd_rejoin, "time", clock)
    gateway = FakeGateway([OTHER, DEAD], refusals=2)
    assert rejoin(gateway, URL, "add", 105.0, pause=1.0)  # type: ignore[arg-type]
    assert clock.now == 102.0  # refused twice, a pause after each
    assert gateway.calls == ["remove 11", "add", "add", "add"]  # removed once, added once


def test_gives_up_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(etcd_rejoin, "time", clock)
    gateway = FakeGateway([OTHER, DEAD], refusals=10**6)
    assert not rejoin(gateway, URL, "add", 101.0, pause=0.25)  # type: ignore[arg-type]
    assert clock.now == 101.0  # tried at 100, 100.25, ... and 101, then gave up
    assert gateway.calls == ["remove 11"] + ["add"] * 5


def arguments(data_dir: Path) -> list[str]:
    return [
        "add", f"--data-dir={data_dir}", f"--peer-url={URL}",
        "--endpoints=https://127.0.0.11:1", "--cacert=/nonexistent", "--cert=/x", "--key=/x",
    ]  # fmt: skip


def test_a_rebooted_node_does_nothing(tmp_path: Path) -> None:
    """The data dir holds a member: no certificate is read, no member asked."""
    (tmp_path / "member").mkdir()
    assert etcd_rejoin.main(arguments(tmp_path)) == 0


PYTHON38 = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.8*/bin/python3.8")))


@pytest.mark.skipif(not PYTHON38, reason="no Python 3.8 here (pyenv)")
def test_runs_on_python_3_8(tmp_path: Path) -> None:
    (tmp_path / "member").mkdir()
    script = etcd_rejoin.__file__
    ran = subprocess.run(
        [PYTHON38[-1], script, *arguments(tmp_path)], capture_output=True, text=True, timeout=30
    )
    assert ran.returncode == 0 and "a reboot, nothing to do" in ran.stderr, ran.stderr
