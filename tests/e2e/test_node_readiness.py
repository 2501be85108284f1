"""Node health from inside the guest, through real terraform and simulated hosts: each node's own
report (``guestinfo.photon.status``) and its VMware Tools heartbeat, the statuses they give,
the remedies the plan shows (reset, then replace) and apply carries out, and apply waiting for
the nodes it made.

The simulated hosts play a healthy node image (Tools green, a ``ready`` report a second after
each power-on), except for the VMs named below, whose guests misbehave at every boot; their
replacements get new VM names and come up well. Elsewhere a test plays the node itself by
setting its guestinfo variable through the API, where the node's ``vmware-rpctool`` sets it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cluster import cluster as cluster_hcl
from tests.support.cluster import cluster_vms, nodes, planned_nodes
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.tenancy import tenant
from tests.support.terraform import (
    Terraform,
    planned_actions,
    planned_change,
    provider_block,
    unknown_until_apply,
)

BEHAVIOURS = {
    "fail-prod-worker-1": "failing",  # reports failing at every boot: a reset cannot help
    "quiet-prod-worker-2": "silent",  # never reports
    "old-prod-worker-1": "silent",  # and its mark is taken away: a node from before
    "bad-prod-worker-2": "failed",  # reports cloud-init failed
    "made-prod-worker-2": "failed",
    "slow-prod-worker-2": "silent",
    "slow-prod-worker-3": "silent",
}
REPORT_AFTER_MS = 500  # long enough that an apply that did not wait would end before it


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    flags = [f"--node={vm}={behaviour}" for vm, behaviour in BEHAVIOURS.items()]
    with Simulator(
        3, "--image", "images/k8s.vmdk", f"--report-after-ms={REPORT_AFTER_MS}", *flags
    ) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def destroyed(tf: Terraform) -> Iterator[None]:
    """Each test's cluster goes at its end: the module's hosts have room for a few at once."""
    yield
    if (tf.workdir / ".terraform").exists():
        assert tf.destroy().code == 0


def write_cluster(
    tf: Terraform,
    sim: Simulator,
    name: str,
    workers: int = 2,
    health: str = "",
    wait: bool = True,
    readiness: str = "",
) -> None:
    """A cluster ``prod`` (1 master, ``workers`` workers) in tenant ``name``, restored at once
    (``grace_period = "0s"``); ``health`` and ``readiness`` are more lines of those blocks."""
    readiness += "" if wait else "\n    wait = false"
    raw = f'  health {{\n    grace_period = "0s"\n{health}\n  }}\n'
    raw += f"  readiness {{{readiness}\n  }}\n"
    tf.write(provider_block(sim.hosts) + tenant(name) + cluster_hcl(workers=workers, raw=raw))


def apply_cluster(
    tf: Terraform, sim: Simulator, name: str, workers: int = 2, health: str = "", wait: bool = True
) -> dict[str, dict[str, Any]]:
    write_cluster(tf, sim, name, workers, health, wait)
    if not (tf.workdir / ".terraform").exists():
        tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    return nodes(tf)


def report(sim: Simulator, node: dict[str, Any]) -> dict | None:
    with probe(sim[node["host"]]) as p:
        return p.report(node["vm_id"])


def boot_times(sim: Simulator, before: dict[str, dict[str, Any]]) -> dict[str, object]:
    times = {}
    for name, node in before.items():
        with probe(sim[node["host"]]) as p:
            times[name] = p.boot_time(node["vm_id"])
    return times


def say(sim: Simulator, node: dict[str, Any], phase: str, reason: str = "") -> None:
    """Play the node's guest: what its report would set with vmware-rpctool."""
    with probe(sim[node["host"]]) as p:
        boot = (p.report(node["vm_id"]) or {}).get("boot", "")
        status = {"phase": phase, "reason": reason, "version": "1.32.3", "boot": boot}
        p.set_extra_config(node["vm_id"], **{"guestinfo.photon.status": json.dumps(status)})


def refreshed(shown: dict[str, Any]) -> dict[str, str]:
    """Each node's status as the plan's refresh found it."""
    before = planned_change(shown, "photon_k8s_cluster.c")["before"]["nodes"]
    return {name: node["status"] for name, node in before.items()}


def eventually_plan(tf: Terraform, code: int, seconds: float = 15) -> Any:
    """The first ``saved_plan`` that exits ``code`` (a timeout must pass first)."""
    deadline = time.monotonic() + seconds
    while True:
        planned, shown = tf.saved_plan()
        if planned.code == code or time.monotonic() > deadline:
            assert planned.code == code, planned.output
            return planned, shown
        time.sleep(0.5)


def test_apply_waits_until_every_node_it_made_reports_ready(sim: Simulator, tf: Terraform) -> None:
    made = apply_cluster(tf, sim, "waits")
    for name, node in made.items():  # reported a second after power-on: apply waited for it
        got = report(sim, node)
        assert got is not None and (got["phase"], got["version"]) == ("ready", "1.32.3"), name
        assert node["status"] == "ready"
    with probe(sim[made["worker-1"]["host"]]) as p:
        extra = p.extra_config(p.vm(made["worker-1"]["vm_id"]))
    assert extra["photon.reports"] == "true" and extra["photon.version"] == "1.32.3"
    assert extra["isolation.tools.setinfo.disable"] == "FALSE"
    assert tf.plan("-detailed-exitcode").code == 0


def test_a_failing_worker_is_reset_and_only_it(sim: Simulator, tf: Terraform) -> None:
    before = apply_cluster(tf, sim, "reset")
    booted = boot_times(sim, before)
    say(sim, before["worker-2"], "failing", "kubelet unhealthy for 30s")

    planned, shown = tf.saved_plan()
    assert planned.code == 2 and shown is not None, planned.output
    assert planned_nodes(shown) == {"worker-2": ("not_ready", "ready", set())}
    assert not unknown_until_apply(planned_change(shown, "photon_k8s_cluster.c")["after_unknown"])
    assert "it reports failing: kubelet unhealthy for 30s" in planned.flat  # refresh: why
    assert "Warning: Node worker-2 is reset" in planned.flat  # plan: what is done

    applied = tf.run("apply", "-no-color", "saved.tfplan")
    assert applied.code == 0, applied.output
    assert nodes(tf) == {**before, "worker-2": before["worker-2"]}  # the same VMs
    after = boot_times(sim, before)
    assert [n for n in before if after[n] != booted[n]] == ["worker-2"]  # reset: a new boot
    # The healthy image reports ready in its new boot: the reset helped.
    planned = eventually_plan(tf, 0)[0]
    assert "worker-2" not in planned.flat
    assert sorted(cluster_vms(sim)) == sorted(before)


def test_still_failing_after_its_reset_the_node_is_replaced(sim: Simulator, tf: Terraform) -> None:
    health = '    startup_timeout = "8s"'
    before = apply_cluster(tf, sim, "fail", health=health, wait=False)
    planned = eventually_plan(tf, 2)[1]
    assert planned_nodes(planned)["worker-1"] == ("not_ready", "ready", set())
    assert tf.apply().code == 0  # the reset
    assert nodes(tf)["worker-1"]["vm_id"] == before["worker-1"]["vm_id"]
    time.sleep(REPORT_AFTER_MS / 1000 + 0.5)  # its new boot reports failing again
    waiting = tf.plan("-detailed-exitcode")
    assert waiting.code == 0, waiting.output
    assert "Warning: Node worker-1 is still not_ready after its reset" in waiting.flat

    eventually_plan(tf, 2)  # 8s after the reset
    write_cluster(tf, sim, "fail", health=health)  # now the replacement is waited for
    planned, shown = tf.saved_plan()
    assert planned_nodes(shown) == {"worker-1": ("not_ready", "ready", {"host", "vm_id", "mac"})}
    applied = tf.apply()
    assert applied.code == 0, applied.output
    after = nodes(tf)
    assert after["worker-1"]["vm_id"] != before["worker-1"]["vm_id"]
    assert report(sim, after["worker-1"])["phase"] == "ready"  # type: ignore[index]
    with probe(sim[before["worker-1"]["host"]]) as p:  # the old VM went before the new came
        assert before["worker-1"]["vm_id"] not in {vm._moId for vm in p.vms().values()}
    assert tf.plan("-detailed-exitcode").code == 0


def test_a_hung_guest_is_reset(sim: Simulator, tf: Terraform) -> None:
    before = apply_cluster(tf, sim, "hung")
    booted = boot_times(sim, before)
    with probe(sim[before["worker-1"]["host"]]) as p:  # the heartbeat stops: red
        p.set_extra_config(before["worker-1"]["vm_id"], **{"SET.guestHeartbeatStatus": "red"})
    planned, shown = tf.saved_plan()
    assert planned.code == 2 and shown is not None, planned.output
    assert planned_nodes(shown) == {"worker-1": ("guest_hung", "ready", set())}
    assert "its VMware Tools heartbeat is red" in planned.flat
    assert tf.run("apply", "-no-color", "saved.tfplan").code == 0
    after = boot_times(sim, before)
    assert [n for n in before if after[n] != booted[n]] == ["worker-1"]
    assert eventually_plan(tf, 0)[0].code == 0  # green again after its new boot


def test_a_node_that_never_reports_is_replaced_after_its_startup_timeout(
    sim: Simulator, tf: Terraform
) -> None:
    before = apply_cluster(tf, sim, "quiet", health='    startup_timeout = "4s"', wait=False)
    first, shown = tf.saved_plan()  # within its startup timeout: booting, not unhealthy
    assert first.code == 0, first.output
    assert refreshed(shown)["worker-2"] == "booting"
    planned, shown = eventually_plan(tf, 2)
    assert planned_nodes(shown) == {"worker-2": ("never_ready", "ready", {"host", "vm_id", "mac"})}
    assert "it has not reported ready within 4s of its boot" in planned.flat
    applied = tf.apply()
    assert applied.code == 0, applied.output
    assert nodes(tf)["worker-2"]["vm_id"] != before["worker-2"]["vm_id"]
    assert tf.plan("-detailed-exitcode").code == 0


def test_nodes_from_before_the_report_and_tools_never_seen_are_judged_as_before(
    sim: Simulator, tf: Terraform
) -> None:
    """worker-1 never reports and its Tools never run (gray); without the report's mark it is a
    node made before this release: ready, never never_ready nor guest_hung."""
    before = apply_cluster(tf, sim, "old", health='    startup_timeout = "1s"', wait=False)
    with probe(sim[before["worker-1"]["host"]]) as p:
        p.set_extra_config(before["worker-1"]["vm_id"], **{"photon.reports": ""})
        assert p.vm(before["worker-1"]["vm_id"]).guestHeartbeatStatus == "gray"
    time.sleep(1.5)
    planned, shown = tf.saved_plan()
    assert planned.code == 0, planned.output
    assert refreshed(shown) == dict.fromkeys(before, "ready")


def test_a_new_node_that_reports_failed_fails_the_apply_and_is_kept(
    sim: Simulator, tf: Terraform
) -> None:
    before = apply_cluster(tf, sim, "bad", workers=1)
    write_cluster(tf, sim, "bad", workers=2)
    started = time.monotonic()
    grown = tf.apply()
    assert grown.code == 1
    assert time.monotonic() - started < 60  # at once, not after readiness.timeout (15m)
    assert "Error: Node worker-2 of cluster bad/prod did not come up" in grown.flat
    assert "it reports failed: cloud-init: runcmd failed (simulated)" in grown.flat
    kept = nodes(tf)  # the partial state keeps what was made
    assert kept["worker-2"]["status"] == "not_ready" and kept["worker-2"]["vm_id"]
    assert {n: kept[n] for n in before} == before
    assert sorted(cluster_vms(sim)) == ["master-1", "worker-1", "worker-2"]


def test_apply_waits_no_longer_than_its_timeouts(sim: Simulator, tf: Terraform) -> None:
    """A new node that never reports fails the apply once its startup timeout has passed (it
    cannot come up by waiting), or at readiness.timeout if that comes first; kept either way."""
    apply_cluster(tf, sim, "slow", workers=1)
    write_cluster(tf, sim, "slow", workers=2, health='    startup_timeout = "2s"')
    never = tf.apply()
    assert never.code == 1
    assert "Error: Node worker-2 of cluster slow/prod did not come up" in never.flat
    assert "it has not reported ready within 2s of its boot" in never.flat
    assert nodes(tf)["worker-2"]["status"] == "never_ready"

    write_cluster(
        tf, sim, "slow", workers=3, health='    startup_timeout = "1h"',
        readiness='\n    timeout = "1s"',
    )  # fmt: skip
    late = tf.apply()
    assert late.code == 1
    assert "Error: Nodes of cluster slow/prod not ready" in late.flat
    assert "worker-3 (booting) did not report ready within 1s (readiness.timeout)" in late.flat
    assert sorted(nodes(tf)) == ["master-1", "worker-1", "worker-2", "worker-3"]


def test_a_new_cluster_whose_worker_fails_is_kept_not_replaced(
    sim: Simulator, tf: Terraform
) -> None:
    """Terraform would replace a whole cluster whose create failed: with the control plane up,
    a worker that reports failed is a warning, and the plans after put it right."""
    write_cluster(tf, sim, "made")
    tf.init()
    created = tf.apply()
    assert created.code == 0, created.output
    assert "Warning: Node worker-2 of cluster made/prod did not come up" in created.flat
    assert "created with its control plane up but worker-2 not ready" in created.flat
    assert {n: v["status"] for n, v in nodes(tf).items()} == {
        "master-1": "ready", "worker-1": "ready", "worker-2": "not_ready"
    }  # fmt: skip
    shown = tf.saved_plan()[1]
    assert shown is not None and planned_actions(shown) == {"photon_k8s_cluster.c": ["update"]}
    assert planned_nodes(shown) == {"worker-2": ("not_ready", "ready", set())}  # a reset first
