"""photon-heal end to end: real terraform, simulated hosts, the healer as a subprocess.

One cluster per module; each test leaves it healthy for the next (the host-stop test runs
last). Every restoration is checked the same way: a clean ``plan -detailed-exitcode``, the
restored node on a new VM, every other node on the VM it had.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.support.cluster import delete_vm, nodes, power_off
from tests.support.healer import HealerProcess, heal_config, node_vms, run_heal, write_watch_file
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.terraform import Terraform, provider_block

LOCK_WAIT = "-lock-timeout=60s"  # a healer may hold the lock while the test plans


def assert_healed(tf: Terraform, sim: Simulator, before: dict, restored: set[str]) -> None:
    plan = tf.plan(LOCK_WAIT)
    assert plan.code == 0, plan.output
    after = nodes(tf)
    assert sorted(after) == sorted(before)
    for name, node in after.items():
        assert node["status"] == "ready", (name, node)
        if name in restored:
            assert node["vm_id"] != before[name]["vm_id"] or node["host"] != before[name]["host"]
        else:
            assert node == before[name], name  # kept its VM
    assert node_vms(sim.hosts) == {n: v["vm_id"] for n, v in after.items()}


def restored_line(healer: HealerProcess, node: str, timeout: float = 60) -> dict:
    return healer.wait_for("restored", lambda line: line.get("node") == node, timeout=timeout)


# -- bad input: one clear line, non-zero exit -------------------------------------------


def test_bad_input(sim2_per_module: Simulator, heal_tf: Terraform, tmp_path: Path) -> None:
    env = heal_tf.env
    work = str(heal_tf.workdir)
    missing = tmp_path / "missing"
    bare = tmp_path / "bare"
    bare.mkdir()
    open_file = write_watch_file(tmp_path / "open.json", sim2_per_module.hosts, mode=0o644)
    folder = tmp_path / "folder.json"
    folder.mkdir(mode=0o700)
    wrong = write_watch_file(tmp_path / "wrong.json", [sim2_per_module.hosts[0]])
    document = json.loads(wrong.read_text())
    document["hosts"][0]["password"] = "not-the-password"
    wrong.write_text(json.dumps(document))
    unknown = write_watch_file(tmp_path / "unknown.json", [sim2_per_module.hosts[0]])
    document = json.loads(unknown.read_text())
    document["hosts"][0]["address"] = "no-such-host.invalid"
    unknown.write_text(json.dumps(document))
    address = sim2_per_module.hosts[0].address
    cases = {
        (str(missing),): f"{missing} is not a directory",
        (str(bare),): f"{bare} is not initialised: run `terraform init` there first",
        (work, "--watch", str(tmp_path / "none.json")): (
            f"watch file {tmp_path / 'none.json'}: No such file or directory"
        ),
        (work, "--watch", str(folder)): f"watch file {folder}: Is a directory",
        (work, "--watch", str(open_file)): (
            f"watch file {open_file} is mode 0644: it holds passwords, so make it readable by "
            f"its owner only (chmod 600 {open_file})"
        ),
        (work, "--watch", str(wrong)): f"esx-1: {address} refused user 'root': ",
        (work, "--watch", str(unknown)): "esx-1: unknown host no-such-host.invalid",
        (work, "--metrics-address", "0.0.0.0:9464"): (
            "--metrics-address '0.0.0.0:9464' must be a loopback address and port, "
            "like 127.0.0.1:9464 or [::1]:9464"
        ),
    }
    for args, message in cases.items():
        result = run_heal(*args, env=env)
        lines = result.stderr.splitlines()
        assert result.returncode == 2, (args, result.stderr)
        assert len(lines) == 1 and lines[0].startswith(f"photon-heal: error: {message}"), lines
        assert sim2_per_module.hosts[0].password not in result.stderr


# -- restorations with no command run by the test ---------------------------------------


@pytest.mark.parametrize("lost", ["worker-2", "master-1"])
def test_a_deleted_node_is_restored(
    sim2_per_module: Simulator, heal_tf: Terraform, heal_watch: Path, lost: str
) -> None:
    before = nodes(heal_tf)
    healer = HealerProcess(heal_tf.workdir, heal_watch, heal_tf.env)
    try:
        healer.wait_for("cycle", lambda line: line["reason"] == "start")
        delete_vm(sim2_per_module, before[lost])
        seen = healer.wait_for("vm_destroyed", lambda line: line.get("node") == lost, timeout=5)
        assert seen["role"] == before[lost]["role"] and seen["host"] == before[lost]["host"]
        line = restored_line(healer, lost)
        assert line["action"] == "replace" and line["seen"] == "lost"
        assert 0 < line["seconds_from_detection"] < 30
    finally:
        assert healer.stop() == 0
    assert_healed(heal_tf, sim2_per_module, before, {lost})
    assert healer.count("restored") == 1


def test_a_powered_off_node_is_restored_once_its_grace_period_is_over(
    sim2_per_module: Simulator, heal_tf: Terraform, heal_watch: Path
) -> None:
    before = nodes(heal_tf)  # the module's cluster has grace_period = "4s"
    healer = HealerProcess(heal_tf.workdir, heal_watch, heal_tf.env)
    try:
        healer.wait_for("cycle", lambda line: line["reason"] == "start")
        power_off(sim2_per_module, before["worker-4"])
        first = healer.wait_for("cycle", lambda line: line["reason"] == "event")
        assert first["outcome"] == "clean"  # within its grace period: reported only
        line = restored_line(healer, "worker-4", timeout=15)
        assert line["seen"] == "powered_off" and line["seconds_from_detection"] >= 4
    finally:
        assert healer.stop() == 0
    assert_healed(heal_tf, sim2_per_module, before, {"worker-4"})


def test_a_disconnected_nic_is_put_back_once_its_grace_period_is_over(
    sim2_per_module: Simulator, heal_tf: Terraform, heal_watch: Path
) -> None:
    before = nodes(heal_tf)
    node = before["worker-3"]
    healer = HealerProcess(heal_tf.workdir, heal_watch, heal_tf.env)
    try:
        healer.wait_for("cycle", lambda line: line["reason"] == "start")
        with probe(sim2_per_module[node["host"]]) as p:
            p.disconnect_nic(node["vm_id"])
        seen = healer.wait_for("vm_devices_changed", lambda line: line["node"] == "worker-3")
        assert "connected=False" in seen["detail"]
        line = restored_line(healer, "worker-3", timeout=20)
        assert (line["seen"], line["action"]) == ("network_lost", "repair")
        assert line["seconds_from_detection"] >= 4  # waited out the grace period
    finally:
        assert healer.stop() == 0
    assert_healed(heal_tf, sim2_per_module, before, set())  # the same VM
    with probe(sim2_per_module[node["host"]]) as p:
        assert p.nic(node["vm_id"]).connectable.connected


def test_a_node_reporting_failing_is_reset_within_its_grace_period_and_10_seconds(
    sim2_per_module: Simulator, heal_tf: Terraform, heal_watch: Path
) -> None:
    before = nodes(heal_tf)
    node = before["worker-2"]
    healer = HealerProcess(heal_tf.workdir, heal_watch, heal_tf.env)
    try:
        healer.wait_for("cycle", lambda line: line["reason"] == "start")
        with probe(sim2_per_module[node["host"]]) as p:  # what the node's report would set
            boot_time = p.boot_time(node["vm_id"])
            status = {"phase": "failing", "reason": "kubelet unhealthy for 30s", "boot": "b"}
            p.set_extra_config(node["vm_id"], **{"guestinfo.photon.status": json.dumps(status)})
        seen = healer.wait_for("vm_not_ready", lambda line: line["node"] == "worker-2")
        assert seen["detail"] == "failing: kubelet unhealthy for 30s"
        line = restored_line(healer, "worker-2", timeout=20)
        assert (line["seen"], line["action"]) == ("not_ready", "reset")
        assert 4 <= line["seconds_from_detection"] <= 4 + 10  # grace_period + 10 s
    finally:
        assert healer.stop() == 0
    with probe(sim2_per_module[node["host"]]) as p:
        assert p.boot_time(node["vm_id"]) != boot_time  # the same VM, a new boot
    time.sleep(1)  # the healthy image reports ready in its new boot
    assert_healed(heal_tf, sim2_per_module, before, set())


# -- what the healer must not do --------------------------------------------------------


def test_a_pending_config_change_is_refused_and_nothing_is_touched(
    sim2_per_module: Simulator, heal_tf: Terraform, heal_watch: Path
) -> None:
    before = nodes(heal_tf)
    delete_vm(sim2_per_module, before["worker-1"])
    heal_tf.write(provider_block(sim2_per_module.hosts) + heal_config(workers=5))  # not applied
    try:
        state_before = (heal_tf.workdir / "terraform.tfstate").read_bytes()
        vms_before = node_vms(sim2_per_module.hosts)
        result = run_heal(str(heal_tf.workdir), "--once", env=heal_tf.env)
        assert result.returncode == 3, result.stderr
        lines = [json.loads(line) for line in result.stderr.splitlines()]
        refused = next(line for line in lines if line["event"] == "refused")
        assert refused["blocked_by"] == [
            "photon_k8s_cluster.c: worker_count would change",
            'photon_k8s_cluster.c: nodes["worker-5"] would be added',
        ]
        assert not any(line["event"] in ("applying", "restored") for line in lines)
        assert (heal_tf.workdir / "terraform.tfstate").read_bytes() == state_before
        assert node_vms(sim2_per_module.hosts) == vms_before
    finally:
        heal_tf.write(provider_block(sim2_per_module.hosts) + heal_config())
    once = run_heal(str(heal_tf.workdir), "--once", env=heal_tf.env)  # the CI recipe
    assert once.returncode == 0, once.stderr
    lines = [json.loads(line) for line in once.stderr.splitlines()]
    assert [line["node"] for line in lines if line["event"] == "restored"] == ["worker-1"]
    assert_healed(heal_tf, sim2_per_module, before, {"worker-1"})


def test_two_healers_never_apply_twice(
    sim2_per_module: Simulator, heal_tf: Terraform, heal_watch: Path
) -> None:
    before = nodes(heal_tf)
    healers = [HealerProcess(heal_tf.workdir, heal_watch, heal_tf.env) for _ in range(2)]
    try:
        for healer in healers:
            healer.wait_for("cycle", lambda line: line["reason"] == "start")
        delete_vm(sim2_per_module, before["worker-2"])
        for healer in healers:
            healer.wait_for("cycle", lambda line: line["reason"] == "event")
        deadline = time.monotonic() + 60
        while sum(h.count("restored") for h in healers) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for healer in healers:
            assert healer.stop() == 0
    assert sum(h.count("restored") for h in healers) == 1
    assert sum(h.count("applying") for h in healers) <= 2  # the loser's apply is refused
    assert_healed(heal_tf, sim2_per_module, before, {"worker-2"})


def test_sigterm_during_an_apply_leaves_no_lock_and_a_consistent_state(
    sim2_per_module: Simulator, heal_tf: Terraform, heal_watch: Path
) -> None:
    before = nodes(heal_tf)
    healer = HealerProcess(heal_tf.workdir, heal_watch, heal_tf.env)
    try:
        healer.wait_for("cycle", lambda line: line["reason"] == "start")
        delete_vm(sim2_per_module, before["worker-3"])
        healer.wait_for("applying", timeout=30)
        healer.proc.send_signal(signal.SIGTERM)
        assert healer.proc.wait(timeout=60) == 0
    finally:
        healer.stop()
    assert not (heal_tf.workdir / ".terraform.tfstate.lock.info").exists()
    plan = heal_tf.plan("-lock-timeout=0s")  # nobody holds the lock
    assert plan.code in (0, 2), plan.output
    state_vms = {n: v["vm_id"] for n, v in nodes(heal_tf).items()}
    on_hosts = node_vms(sim2_per_module.hosts)
    assert {n: state_vms.get(n) for n in on_hosts} == on_hosts  # nothing made is forgotten
    assert set(state_vms) == set(before)
    once = run_heal(str(heal_tf.workdir), "--once", env=heal_tf.env)
    assert once.returncode == 0, once.stderr
    assert_healed(heal_tf, sim2_per_module, before, {"worker-3"})


def test_a_host_stopped_while_the_healer_runs(
    sim2_per_module: Simulator, heal_tf: Terraform, heal_watch: Path
) -> None:
    """Last in the module: the host stays down. Its nodes are restored on the other one."""
    before = nodes(heal_tf)
    on_esx2 = {n for n, v in before.items() if v["host"] == "esx-2"}
    assert on_esx2
    healer = HealerProcess(heal_tf.workdir, heal_watch, heal_tf.env)
    try:
        healer.wait_for("cycle", lambda line: line["reason"] == "start")
        sim2_per_module.kill("esx-2")
        stopped = time.monotonic()
        healer.wait_for("host_unreachable", lambda line: line["host"] == "esx-2", timeout=5)
        assert time.monotonic() - stopped < 2
        for name in on_esx2:
            line = restored_line(healer, name)
            assert line["host"] == "esx-2" and line["seen"] == "lost"
        assert healer.proc.poll() is None  # still watching
    finally:
        assert healer.stop() == 0
    plan = heal_tf.plan(LOCK_WAIT)
    assert plan.code == 0, plan.output
    after = nodes(heal_tf)
    for name, node in after.items():
        assert node["status"] == "ready"
        assert node == before[name] if name not in on_esx2 else node["host"] == "esx-1"
