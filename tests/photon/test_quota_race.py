"""Three runs racing the last slot of a quota, 20 times, on each record store: exactly one
wins every time. Each run is its own Platform (its own ESXi session, its own store and
database connection), so they meet only where separate processes would: on the host's
datastore lock or on PostgreSQL's advisory lock."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from provider.bridge.diagnostics import DiagnosticError
from provider.esxi.endpoint import Endpoint
from provider.photon.platform import Platform
from provider.photon.quota_admission import admitted
from provider.photon.quota_policy import Amounts
from provider.photon.records.postgres import PostgresRecords
from tests.support.postgres import Postgres
from tests.support.probe import Probe, probe
from tests.support.simulator import SimHost, Simulator

ROUNDS, RUNS = 20, 3


@pytest.fixture(scope="module")
def host() -> Iterator[SimHost]:
    with Simulator(1) as sim:
        yield sim.hosts[0]


def run_platform(host: SimHost, url: str | None) -> Platform:
    stop = threading.Event()
    records = None if url is None else PostgresRecords(url, stop=stop)
    endpoint = Endpoint(host.name, host.address, host.user, host.password, host.thumbprint)
    return Platform([endpoint], records=records, stop=stop)


def make_vm(p: Probe, tenant: str, node: str) -> None:
    """What an admitted run does: a VM that counts against the tenant's quota."""
    marks = {"tenant": tenant, "cluster": "c", "role": "worker", "node": node}
    p.create_vm(p.pool(f"photon-tenant-{tenant}"), f"{tenant}-{node}", marks=marks)


@pytest.mark.parametrize("store", ["datastore", "postgres"])
def test_three_runs_racing_the_last_slot_admit_exactly_one(
    host: SimHost, postgres: Postgres, store: str
) -> None:
    tenant = f"race-{store}"
    url = postgres.new_database() if store == "postgres" else None
    with probe(host) as p:
        p.create_pool(f"photon-tenant-{tenant}")
    runs = [run_platform(host, url) for _ in range(RUNS)]
    one_vm = Amounts(vm_count=1, vcpu=1, memory_gb=0.125, disk_gb=0)
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(probe(host)) for _ in range(RUNS)]  # one session a run
        race_rounds(runs, probes, tenant, one_vm)
    with probe(host) as p:
        assert len(p.pool(f"photon-tenant-{tenant}").vm) == ROUNDS
    for run in runs:
        run.close()


def race_rounds(runs: list[Platform], probes: list[Probe], tenant: str, one_vm: Amounts) -> None:
    refused = f"Quota of tenant {tenant} exceeded"
    for round_ in range(ROUNDS):  # round N: N VMs exist, the quota allows N + 1
        runs[0].records().put("quotas", tenant, {"limits": {"vm_count": round_ + 1}})
        start = threading.Barrier(RUNS)

        def race(index: int, round_: int = round_, start: threading.Barrier = start) -> str:
            start.wait()
            try:
                with admitted(runs[index], tenant, one_vm, f"race {round_}"):
                    make_vm(probes[index], tenant, f"n{round_}-{index}")
                return "admitted"
            except DiagnosticError as exc:
                return exc.diagnostic.summary

        with ThreadPoolExecutor(RUNS) as pool:
            outcomes = sorted(pool.map(race, range(RUNS)), key=lambda o: o != "admitted")
        assert outcomes == ["admitted", refused, refused], (round_, outcomes)
