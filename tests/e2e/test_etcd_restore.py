"""A lost etcd member restored by apply rejoins a real etcd cluster: its boot data, read from the
simulated host, run with Debian's etcd (see tests/support/node_emulator.py).

What counts: the restored member has a new member ID (the dead one was removed, not reused),
serves every key, takes new writes, and votes (the cluster keeps quorum when another original
member then dies); its own readiness report says ready only once it is a healthy member, and
apply waits for that. A roll (a new etcd_flavor) replaces the three members one at a time the
same way, with every key kept and writes taken all along. For stacked etcd, the removal step of
a restored master's boot data runs against real members with certificates of the cluster's
etcd CA.

The simulated hosts here say nothing for the node VMs (``--no-node-report``): what a member's
VM reports comes from the real report script of its boot data, run by the emulator, whose
``vmware-rpctool`` stand-in sets the variable on the VM's host. Masters are not run (no
kubeadm here), so applies that make them do not wait (``readiness { wait = false }``).
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from provider.photon.cluster.kubernetes.pki import CertKey, issue
from tests.support.cluster import cluster_hcl, delete_vm, nodes
from tests.support.node_emulator import Guest, NodeEmulator, boot_data
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.terraform import Terraform, provider_block

KEYS = 100
ETCD = ["etcd-1", "etcd-2", "etcd-3"]


NO_WAIT = "  readiness {\n    wait = false\n  }\n"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(3, "--image", "images/k8s.vmdk", "--no-node-report") as simulator:
        yield simulator


def config(tenant: str, etcd_ips: list[str], master_ips: list[str], raw: str = NO_WAIT) -> str:
    """A cluster on loopback addresses with no workers: etcd members and masters only."""
    head = f'resource "photon_tenant" "t" {{\n  name = "{tenant}"\n}}\n'
    return head + cluster_hcl(etcd_ips, master_ips, 0, netmask="255.0.0.0", gateway=None, raw=raw)


def apply(tf: Terraform, sim: Simulator, hcl: str) -> dict[str, dict[str, Any]]:
    tf.write(provider_block(sim.hosts) + hcl)
    if not (tf.workdir / ".terraform").exists():
        tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    return nodes(tf)


def boot(sim: Simulator, node: dict[str, Any]) -> dict:
    return boot_data(sim[node["host"]], node["vm_id"])


def guest(sim: Simulator, node: dict[str, Any]) -> Guest:
    return Guest(sim[node["host"]], node["vm_id"])


def report(sim: Simulator, node: dict[str, Any]) -> dict:
    with probe(sim[node["host"]]) as p:
        return p.report(node["vm_id"]) or {}


def eventually(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """``check()``'s first result without an assertion failure or etcdctl error; etcd needs a
    moment after a start, a restore or the loss of its leader."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except (AssertionError, RuntimeError) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {seconds} s: {what}") from exc
            time.sleep(0.3)


# -- looking at etcd through etcdctl ---------------------------------------------------------


def members(emu: NodeEmulator, via: str) -> dict[str, int]:
    """Member name -> ID; a member added but not started has the name ''."""
    listed = json.loads(emu.etcdctl(via, "member", "list", "-w", "json"))["members"]
    return {m.get("name", ""): m["ID"] for m in listed}


def leader(emu: NodeEmulator, via: str) -> str:
    """The node (``etcd-2``) whose member leads."""
    urls = [emu.client_url(n) for n in emu.running()]
    statuses = json.loads(emu.etcdctl(via, "endpoint", "status", "-w", "json", endpoints=urls))
    leader_id = statuses[0]["Status"]["leader"]
    head = next(name for name, id_ in members(emu, via).items() if id_ == leader_id)
    return head.removeprefix("prod-")


def healthy(emu: NodeEmulator, via: str, names: list[str]) -> None:
    emu.etcdctl(via, "endpoint", "health", endpoints=[emu.client_url(n) for n in names])


def read(emu: NodeEmulator, name: str, prefix: str, consistency: str = "l") -> dict[str, str]:
    """Every key under ``prefix`` as node ``name``'s member serves it (``s``: from its own
    store, without asking the leader)."""
    out = emu.etcdctl(name, "get", prefix, "--prefix", f"--consistency={consistency}", "-w", "json")
    kvs = json.loads(out).get("kvs", [])
    return {
        base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode() for kv in kvs
    }


def sees(emu: NodeEmulator, name: str, prefix: str, want: dict[str, str]) -> None:
    """Node ``name``'s member serves ``want`` under ``prefix`` from its own store, soon."""

    def check() -> None:
        got = read(emu, name, prefix, "s")
        assert got == want, (len(got), len(want))

    eventually(check, f"{name} serves what was written under {prefix}")


def put_keys(emu: NodeEmulator, via: str, prefix: str, n: int) -> None:
    """``n`` keys in few etcdctl runs: a transaction takes up to 128 operations."""
    for start in range(0, n, 100):
        ops = "".join(f"put {prefix}{i:03} v{i}\n" for i in range(start, min(n, start + 100)))
        emu.etcdctl(via, "txn", input="\n" + ops + "\n\n")


# -- external etcd -----------------------------------------------------------------------------


def start_etcd(sim: Simulator, tf: Terraform, emu: NodeEmulator, hcl: str) -> dict[str, Any]:
    """Apply the cluster, boot its etcd members from their boot data, write the keys."""
    before = apply(tf, sim, hcl)
    for name in ETCD:
        emu.boot(name, boot(sim, before[name]), guest(sim, before[name]))
    eventually(lambda: healthy(emu, "etcd-1", ETCD), "the members form a cluster")
    put_keys(emu, "etcd-1", "k/", KEYS)
    return before


def lose_and_restore(
    sim: Simulator, tf: Terraform, emu: NodeEmulator, hcl: str, lost: str, node: dict[str, Any]
) -> None:
    """The node's VM destroyed, its process killed and its data gone; plan, apply, and the
    restored VM's boot data run."""
    delete_vm(sim, node)
    emu.lose(lost)
    assert tf.plan().code == 2
    after = apply(tf, sim, hcl)
    assert after[lost]["vm_id"] != node["vm_id"]
    restored = boot(sim, after[lost])
    assert "ExecStartPre=/usr/bin/python3" in json.dumps(restored)
    emu.boot(lost, restored, guest(sim, after[lost]))


@pytest.mark.parametrize("lost_role", ["leader", "follower"])
def test_a_lost_etcd_member_rejoins_with_a_new_id_all_data_and_a_vote(
    sim: Simulator, tf: Terraform, nodes_sandbox: NodeEmulator, lost_role: str
) -> None:
    emu = nodes_sandbox
    base = {"leader": 10, "follower": 30}[lost_role]  # tests on one simulator keep apart
    etcd_ips = [f"127.0.0.{base + i}" for i in (1, 2, 3)]
    hcl = config(f"etcd-{lost_role}", etcd_ips, [f"127.0.0.{base + 4}"])
    before = start_etcd(sim, tf, emu, hcl)
    head = leader(emu, "etcd-1")
    lost = head if lost_role == "leader" else next(n for n in ETCD if n != head)
    others = [n for n in ETCD if n != lost]
    old_id = members(emu, others[0])[f"prod-{lost}"]

    lose_and_restore(sim, tf, emu, hcl, lost, before[lost])

    eventually(lambda: healthy(emu, others[0], ETCD), "the restored member is healthy")
    listed = eventually(lambda: _all_started(members(emu, others[0])), "every member started")
    assert sorted(listed) == [f"prod-{n}" for n in ETCD]
    assert listed[f"prod-{lost}"] != old_id
    log = emu.log(lost)
    assert f"removed member {old_id} " in log and "added this node" in log, log
    written = {f"k/{i:03}": f"v{i}" for i in range(KEYS)}
    sees(emu, lost, "k/", written)
    assert read(emu, lost, "k/") == written

    emu.etcdctl(others[0], "put", "after/1", "x")
    for name in ETCD:
        sees(emu, name, "after/", {"after/1": "x"})
    emu.kill(others[1])  # an original member dies: the restored one must vote
    eventually(lambda: emu.etcdctl(lost, "put", "after/2", "y"), "a write with 2 of 3 members")
    assert read(emu, others[0], "after/") == {"after/1": "x", "after/2": "y"}


def test_a_restored_member_reports_ready_only_once_it_is_a_healthy_member_and_apply_waits(
    sim: Simulator, tf: Terraform, nodes_sandbox: NodeEmulator
) -> None:
    emu = nodes_sandbox
    etcd_ips = [f"127.0.0.{70 + i}" for i in (1, 2, 3)]
    hcl = config("etcd-report", etcd_ips, ["127.0.0.74"])
    before = start_etcd(sim, tf, emu, hcl)
    for name in ETCD:  # the real script, on the host: ready once etcd's /health says true
        eventually(lambda n=name: _phase(report(sim, before[n]), "ready"), f"{name} ready")
    delete_vm(sim, before["etcd-2"])
    emu.lose("etcd-2")

    tf.write(provider_block(sim.hosts) + config("etcd-report", etcd_ips, ["127.0.0.74"], raw=""))
    outcome: list[Any] = []
    applying = threading.Thread(target=lambda: outcome.append(tf.apply()), daemon=True)
    applying.start()
    new = eventually(lambda: _new_vm(sim, "etcd-report", "etcd-2", before), "the new VM", 60)
    restored = boot(sim, new)
    emu.boot("etcd-2", restored, guest(sim, new), units={"photon-report.service"})
    eventually(lambda: _phase(report(sim, new), "booting"), "etcd-2 reports booting")
    assert report(sim, new)["reason"] == "waiting for etcd"
    time.sleep(3)  # more than the report's interval: etcd is not there, so not ready
    assert report(sim, new)["phase"] == "booting" and applying.is_alive()  # apply waits

    emu.start("etcd-2", "etcd-photon.service")
    applying.join(timeout=120)
    assert outcome and outcome[0].code == 0, outcome and outcome[0].output
    assert report(sim, new)["phase"] == "ready"
    healthy(emu, "etcd-2", ETCD)  # when it said ready, it was a healthy member
    assert sorted(_all_started(members(emu, "etcd-2"))) == [f"prod-{n}" for n in ETCD]
    kept = nodes(tf)["etcd-2"]
    assert (kept["host"], kept["vm_id"], kept["status"]) == (new["host"], new["vm_id"], "ready")


def _phase(got: dict, phase: str) -> dict:
    assert got.get("phase") == phase, got
    return got


def _new_vm(sim: Simulator, tenant: str, node: str, before: dict[str, Any]) -> dict[str, Any]:
    """The VM apply made for ``node`` (it exists once apply has made it)."""
    for host in sim.hosts:
        with probe(host) as p:
            for vm in p.vms().values():
                extra = p.extra_config(vm)
                mine = (extra.get("photon.tenant"), extra.get("photon.node")) == (tenant, node)
                if mine and vm._moId != before[node]["vm_id"]:
                    return {**before[node], "host": host.name, "vm_id": vm._moId}
    raise AssertionError(f"no new VM for {node} yet")


def _all_started(listed: dict[str, int]) -> dict[str, int]:
    assert "" not in listed, listed  # a member added but not started has no name yet
    return listed


# -- a roll (an upgrade) of external etcd ------------------------------------------------------


def test_a_rolled_etcd_keeps_every_key_and_takes_writes_all_through_the_roll(
    sim: Simulator, tf: Terraform, nodes_sandbox: NodeEmulator
) -> None:
    """A new etcd_flavor rolls the three members one at a time: each new VM's boot data run
    here, each ready (its real report) before the next goes, a writer writing all along."""
    emu = nodes_sandbox
    etcd_ips = [f"127.0.0.{90 + i}" for i in (1, 2, 3)]
    hcl = config("etcd-roll", etcd_ips, ["127.0.0.94"])
    before = start_etcd(sim, tf, emu, hcl)
    old_ids = members(emu, "etcd-1")
    with probe(sim[before["master-1"]["host"]]) as p:  # masters are not run here: it says
        p.set_extra_config(before["master-1"]["vm_id"], **{"guestinfo.photon.status": json.dumps(
            {"phase": "ready", "reason": "", "version": "1.32.3", "boot": "b1"})})  # fmt: skip
    urls = [emu.client_url(n) for n in ETCD]
    writer = _Writer(emu, urls)
    writer.start()
    rolled = config("etcd-roll", etcd_ips, ["127.0.0.94"], raw="").replace(
        "etcd_flavor        = { vcpu = 1, memory_gb = 0.5, disk_gb = 2 }",
        "etcd_flavor = { vcpu = 2, memory_gb = 0.5, disk_gb = 2 }",
    )
    tf.write(provider_block(sim.hosts) + rolled)
    outcome: list[Any] = []
    applying = threading.Thread(target=lambda: outcome.append(tf.apply()), daemon=True)
    applying.start()
    for name in ETCD:  # in the roll's order, each new VM booted as a host would boot it
        eventually(lambda n=name: _gone(sim, before[n]), f"{name}'s old VM destroyed", 120)
        emu.lose(name)
        new = eventually(lambda n=name: _new_vm(sim, "etcd-roll", n, before), f"{name}'s VM", 60)
        emu.boot(name, boot(sim, new), guest(sim, new))
    applying.join(timeout=180)
    writer.stop()
    assert outcome and outcome[0].code == 0, outcome and outcome[0].output

    after = nodes(tf)
    assert all(after[n]["vm_id"] != before[n]["vm_id"] for n in ETCD)
    assert all(after[n]["flavor"] == "2/0.5/2" for n in ETCD)
    listed = eventually(lambda: _all_started(members(emu, "etcd-1")), "every member started")
    assert sorted(listed) == sorted(old_ids)
    assert not set(listed.values()) & set(old_ids.values())  # every member is a new one
    for name in ETCD:
        sees(emu, name, "k/", {f"k/{i:03}": f"v{i}" for i in range(KEYS)})
        # every acknowledged write is there (one whose answer was lost may be there too)
        eventually(lambda n=name: _holds(read(emu, n, "w/", "s"), writer.written), f"{name} w/")
    assert len(writer.written) > 20, writer.written
    assert writer.longest_refusal < 15.0, writer.failures  # never more than one member away


class _Writer:
    """Writes ``w/NNNN`` keys through every member's URL until stopped; remembers what was
    written and the longest stretch in which writes were refused."""

    def __init__(self, emu: NodeEmulator, urls: list[str]) -> None:
        self.emu, self.urls = emu, urls
        self.written: dict[str, str] = {}
        self.failures: list[str] = []
        self.longest_refusal = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        refused_since: float | None = None
        i = 0
        while not self._stop.is_set():
            key, value = f"w/{i:04}", f"x{i}"
            began = time.monotonic()
            try:
                via = next(n for n in ETCD if n in set(self.emu.running()))
                self.emu.etcdctl(via, "put", key, value, endpoints=self.urls)
                self.written[key] = value
                i += 1
                refused_since = None
            except (RuntimeError, StopIteration, OSError) as exc:
                refused_since = refused_since or began  # refused from when this try began
                self.failures.append(str(exc)[:120])
            if refused_since is not None:
                self.longest_refusal = max(self.longest_refusal, time.monotonic() - refused_since)
            time.sleep(0.1)


def _holds(got: dict[str, str], want: dict[str, str]) -> None:
    assert want.items() <= got.items(), sorted(set(want) - set(got))[:5]


def _gone(sim: Simulator, node: dict[str, Any]) -> None:
    with probe(sim[node["host"]]) as p:
        assert node["vm_id"] not in {vm._moId for vm in p.vms().values()}


# -- stacked etcd ------------------------------------------------------------------------------


def kubeadm_etcd(etcd_ca: CertKey, hostname: str, ip: str, cluster: str) -> dict:
    """What kubeadm gives a stacked master's etcd (a certificate from the cluster's etcd CA,
    the static pod's flags), as boot data with a unit the emulator runs."""
    now = datetime.datetime.now(datetime.UTC)
    names = {"dns_names": [hostname, "localhost"], "ip_addresses": [ip, "127.0.0.1"]}
    server = issue(etcd_ca, hostname, server=True, client=True, now=now, **names)
    pki = "/etc/kubernetes/pki/etcd"
    flags = [
        f"--name={hostname}", "--data-dir=/var/lib/etcd",
        f"--listen-client-urls=https://127.0.0.1:2379,https://{ip}:2379",
        f"--advertise-client-urls=https://{ip}:2379",
        f"--listen-peer-urls=https://{ip}:2380", f"--initial-advertise-peer-urls=https://{ip}:2380",
        f"--initial-cluster={cluster}", "--initial-cluster-state=new",
        "--client-cert-auth=true", "--peer-client-cert-auth=true",
        f"--trusted-ca-file={pki}/ca.crt", f"--peer-trusted-ca-file={pki}/ca.crt",
        f"--cert-file={pki}/server.crt", f"--key-file={pki}/server.key",
        f"--peer-cert-file={pki}/server.crt", f"--peer-key-file={pki}/server.key",
    ]  # fmt: skip
    unit = f"[Service]\nExecStart=/usr/bin/etcd {' '.join(flags)}\nRestart=always\n"
    files = {
        f"{pki}/ca.crt": etcd_ca.cert_pem,
        f"{pki}/server.crt": server.cert_pem,
        f"{pki}/server.key": server.key_pem,
        "/etc/systemd/system/etcd.service": unit,
    }
    return {
        "write_files": [{"path": k, "content": v, "permissions": "0600"} for k, v in files.items()]
    }


def test_a_restored_stacked_master_removes_the_lost_member_before_joining(
    sim: Simulator, tf: Terraform, nodes_sandbox: NodeEmulator
) -> None:
    emu = nodes_sandbox
    ips = {f"master-{i}": f"127.0.0.{50 + i}" for i in (1, 2, 3)}
    hcl = config("stacked", [], list(ips.values()))
    before = apply(tf, sim, hcl)
    files = {f["path"]: f["content"] for f in boot(sim, before["master-1"])["write_files"]}
    etcd_ca = CertKey(
        files["/etc/kubernetes/pki/etcd/ca.crt"], files["/etc/kubernetes/pki/etcd/ca.key"]
    )
    cluster = ",".join(f"prod-{n}=https://{ip}:2380" for n, ip in ips.items())
    for name, ip in ips.items():
        emu.boot(name, kubeadm_etcd(etcd_ca, f"prod-{name}", ip, cluster))
    eventually(lambda: healthy(emu, "master-1", list(ips)), "the members form a cluster")

    delete_vm(sim, before["master-2"])
    emu.lose("master-2")
    after = apply(tf, sim, hcl)
    restored = boot(sim, after["master-2"])
    command = restored["runcmd"][-1]
    assert " remove " in command and command.endswith(
        "&& kubeadm join --config /etc/kubernetes/kubeadm.json"
    )

    results = emu.run_commands("master-2", restored)
    assert [r.returncode for r in results] == [0], [r.stderr for r in results]
    assert "removed member" in results[0].stderr
    assert sorted(members(emu, "master-1")) == ["prod-master-1", "prod-master-3"]
