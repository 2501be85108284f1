"""Quota arithmetic, and admission under the platform lock against simulated hosts."""

from __future__ import annotations

import threading
import time

from provider.bridge.diagnostics import DiagnosticError
from provider.esxi.endpoint import Endpoint
from provider.esxi.inventory import VmInfo
from provider.photon.platform import Platform
from provider.photon.quota_admission import admitted, check
from provider.photon.quota_policy import Amounts, below_usage, decide, usage_of
from tests.support.probe import probe
from tests.support.simulator import Simulator

UNLIMITED = Amounts(None, None, None, None)


def test_a_request_that_fits_is_allowed() -> None:
    limits = Amounts(vm_count=5, vcpu=None, memory_gb=16, disk_gb=None)
    assert decide(limits, Amounts(4, 10, 12, 100), Amounts(1, 64, 4, 900)).allowed
    assert decide(UNLIMITED, Amounts(99, 99, 99, 99), Amounts(1, 1, 1, 1)).allowed


def test_a_refusal_names_limit_usage_and_request() -> None:
    limits = Amounts(vm_count=5, vcpu=8, memory_gb=16, disk_gb=None)
    decision = decide(limits, Amounts(4, 6, 15.5, 0), Amounts(2, 2, 1, 10))
    assert not decision.allowed
    assert [str(e) for e in decision.excesses] == [
        "vm_count (vm): limit 5, in use 4, requested 2",
        "memory_gb (vm.memory): limit 16 GB, in use 15.5 GB, requested 1 GB",
    ]


def test_limits_below_usage() -> None:
    excess = below_usage(Amounts(2, None, 1, None), Amounts(3, 8, 0.5, 0))
    assert [(e.kind, e.limit, e.usage) for e in excess] == [("vm_count", 2, 3)]


def test_usage_of_vms_in_quota_units() -> None:
    vms = [
        VmInfo("vm-1", "a", None, {}, vcpu=2, memory_mb=1536, disk_kb=2 * 1024**2, power_state=""),
        VmInfo("vm-2", "b", None, {}, vcpu=1, memory_mb=512, disk_kb=1024**2, power_state=""),
    ]
    assert usage_of(vms) == Amounts(vm_count=2, vcpu=3, memory_gb=2, disk_gb=3)


def test_two_admissions_at_once_cannot_together_pass_the_limit() -> None:
    with Simulator(2) as sim:
        endpoints = [
            Endpoint(h.name, h.address, h.user, h.password, h.thumbprint) for h in sim.hosts
        ]
        platform = Platform(endpoints)
        records = platform.records()
        records.put("quotas", "team-a", {"limits": Amounts(1, None, None, None).as_dict()})
        with probe(sim["esx-2"]) as p:
            pool = p.create_pool("photon-tenant-team-a")
        outcomes: list[str] = []

        def cluster(name: str) -> None:
            try:
                with admitted(platform, "team-a", Amounts(1, 1, 0, 0), f"cluster {name}"):
                    time.sleep(0.2)  # while creating, the other run must wait
                    with probe(sim["esx-2"]) as p:
                        p.create_vm(pool, name, marks={"tenant": "team-a"})
                outcomes.append("admitted")
            except DiagnosticError as exc:
                outcomes.append(exc.diagnostic.detail)

        runs = [threading.Thread(target=cluster, args=(n,)) for n in ("c1", "c2")]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
        assert sorted(outcomes)[0] == "admitted"
        assert sorted(outcomes)[1].startswith("vm_count (vm): limit 1, in use 1, requested 1")
        assert not check(platform, "team-a", Amounts(1, 0, 0, 0)).allowed
        platform.close()
