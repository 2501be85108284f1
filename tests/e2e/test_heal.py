"""photon-heal end to end: real terraform, simulated hosts, the healer as a subprocess.

One cluster per module; each test leaves it healthy for the next (the host-stop test runs
last). Every restoration is checked the same way: a clean ``plan -detailed-exitcode``, the
restored node on a new VM, every other node on the VM it had.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.healer import HealerProcess, cluster_hcl, node_vms, run_heal, write_watch_file
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.terraform import Terraform, provider_block

LOCK_WAIT = "-lock-timeout=60s"  # a healer may hold the lock while the test plans


def nodes(tf: Terraform) -> dict[str, dict]:
    shown = json.loads(tf.ok("show", "-json").stdout)
    resources = shown["values"]["root_module"]["resources"]
    return next(r for r in resources if r["type"] == "photon_k8s_cluster")["values"]["nodes"]


def delete_vm(sim: Simulator, node: dict) -> None:
    with probe(sim[node["host"]]) as p:
        p.destroy_vm(node["vm_id"])


def power_off(sim: Simulator, node: dict) -> None:
    with probe(sim[node["host"]]) as p:
        p.power_off(node["vm_id"])


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


def test_bad_input(heal_sim: Simulator, heal_tf: Terraform, tmp_path: Path) -> None:
    env = heal_tf.env
    work = str(heal_tf.workdir)
    missing = tmp_path / "missing"
    bare = tmp_path / "bare"
    bare.mkdir()
    open_file = write_watch_file(tmp_path / "open.json", heal_sim.hosts, mode=0o644)
    folder = tmp_path / "folder.json"
    folder.mkdir(mode=0o700)
    wrong = write_watch_file(tmp_path / "wrong.json", [heal_sim.hosts[0]])
    document = json.loads(wrong.read_text())
    document["hosts"][0]["password"] = "not-the-password"
    wrong.write_text(json.dumps(document))
    unknown = write_watch_file(tmp_path / "unknown.json", [heal_sim.hosts[0]])
    document = json.loads(unknown.read_text())
    document["hosts"][0]["address"] = "no-such-host.invalid"
    unknown.write_text(json.dumps(document))
    address = heal_sim.hosts[0].address
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
        assert heal_sim.hosts[0].password not in result.stderr


# -- restorations with no command run by the test ---------------------------------------


@pytest.mark.parametrize("lost", ["worker-2", "master-1"])
def test_a_deleted_node_is_restored(
    heal_sim: Simulator, heal_tf: Terraform, heal_watch: Path, lost: str
) -> None:
    before = nodes(heal_tf)
    healer = HealerProcess(heal_tf.workdir, heal_watch, heal_tf.env)
    try:
        healer.wait_for("cycle", lambda line: line["reason"] == "start")
        delete_vm(heal_sim, before[lost])
        seen = healer.wait_for("vm_destroyed", lambda line: line.get("node") == lost, timeout=5)
        assert seen["role"] == before[lost]["role"] and seen["host"] == before[lost]["host"]
        line = restored_line(healer, lost)
        assert line["action"] == "replace" and line["seen"] == "lost"
        assert 0 < line["seconds_from_detection"] < 30
    finally:
        assert healer.stop() == 0
    assert_healed(heal_tf, heal_sim, before, {lost})
    assert healer.count("restored") == 1


def test_a_powered_off_node_is_restored(
    heal_sim: Simulator, heal_tf: Terraform, heal_watch: Path
) -> None:
    """grace_period 0s: past its grace period at once (the current provider keeps the
    first-seen time in private state, which plan-only runs do not save)."""
    before = nodes(heal_tf)
    healer = HealerProcess(heal_tf.workdir, heal_watch, heal_tf.env)
    try:
        healer.wait_for("cycle", lambda line: line["reason"] == "start")
        power_off(heal_sim, before["worker-3"])
        healer.wait_for("vm_powered_off", lambda line: line.get("node") == "worker-3", timeout=5)
        line = restored_line(healer, "worker-3")
        assert line["seen"] == "powered_off" and line["action"] == "replace"
    finally:
        assert healer.stop() == 0
    assert_healed(heal_tf, heal_sim, before, {"worker-3"})
