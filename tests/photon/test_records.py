"""Platform records and the lock, against a simulated host's datastore (the default store)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from provider.bridge.diagnostics import DiagnosticError
from provider.esxi.endpoint import Endpoint
from provider.photon.platform import Platform
from provider.photon.records.cache import SharedReads
from provider.photon.records.datastore import DatastoreRecords
from provider.photon.records.lease import LINGER
from tests.support.probe import probe
from tests.support.simulator import SimHost, Simulator


@pytest.fixture
def host() -> Iterator[SimHost]:
    with Simulator(1) as sim:
        yield sim.hosts[0]


@pytest.fixture
def store(host: SimHost) -> Iterator[DatastoreRecords]:
    platform = Platform(
        [Endpoint(host.name, host.address, host.user, host.password, host.thumbprint)],
        sealing=False,  # the store itself, as records export sees it
    )
    shared = platform.records()
    assert isinstance(shared, SharedReads)
    store = shared.store
    assert isinstance(store, DatastoreRecords)
    yield store
    platform.close()


def put_lock(host: SimHost, token: str) -> None:
    with probe(host) as p:
        p.make_directory("photon-platform/lock")
        owner = {"token": token, "expires": "2999-01-01T00:00:00+00:00"}
        p.write_file("photon-platform/lock/owner.json", json.dumps(owner).encode())


def lock_token(host: SimHost) -> str | None:
    with probe(host) as p:
        data = p.read_file("photon-platform/lock/owner.json")
    return json.loads(data)["token"] if data else None


def test_records_round_trip_with_format_and_kind(store: DatastoreRecords) -> None:
    store.put("quotas", "a", {"limits": {"vcpu": 4}})
    record = store.get("quotas", "a")
    assert record is not None
    assert (record["format"], record["kind"], record["name"], record["limits"]) == (
        1, "quota", "a", {"vcpu": 4},
    )  # fmt: skip
    store.remove("quotas", "a")
    assert store.get("quotas", "a") is None


def test_a_record_of_another_kind_is_refused(host: SimHost, store: DatastoreRecords) -> None:
    store.put("tenants", "a", {})
    with probe(host) as p:
        p.write_file("photon-platform/quotas/a.json", p.read_file("photon-platform/tenants/a.json"))  # type: ignore[arg-type]
    with pytest.raises(DiagnosticError) as failure:
        store.get("quotas", "a")
    assert "not a quota record" in failure.value.diagnostic.detail


def test_breaking_a_lock_that_was_retaken_meanwhile_gives_it_back(
    host: SimHost, store: DatastoreRecords
) -> None:
    put_lock(host, "live")
    store._break({"token": "judged-stale"})  # another run retook it after our judgement
    assert lock_token(host) == "live"


def test_release_leaves_a_lock_that_is_no_longer_ours(
    host: SimHost, store: DatastoreRecords
) -> None:
    put_lock(host, "someone-else")
    store._release("mine")
    assert lock_token(host) == "someone-else"


def test_the_lock_is_taken_kept_for_the_next_section_and_released_when_idle(
    host: SimHost, store: DatastoreRecords
) -> None:
    with store.locked("test"):
        token = lock_token(host)
        assert token is not None
        with probe(host) as p:
            owner = json.loads(p.read_file("photon-platform/lock/owner.json") or b"{}")
        assert owner["purpose"] == "test" and owner["expires"] > owner["acquired"]
    with store.locked("next"):  # Terraform's next resource, sent as the previous answered
        assert lock_token(host) == token
    time.sleep(LINGER * 1.5)
    assert lock_token(host) is None


def test_a_stop_ends_the_wait_for_a_held_lock(host: SimHost, store: DatastoreRecords) -> None:
    put_lock(host, "live")
    store.stop.set()
    with pytest.raises(DiagnosticError) as failure, store.locked("test"):
        pass
    assert failure.value.diagnostic.summary == "Stopped while waiting for the platform lock"


def test_a_record_being_rewritten_is_never_read_in_part(store: DatastoreRecords) -> None:
    """An HTTP PUT fills a datastore file as the bytes arrive: a run reading a record that
    another run is writing must see the old record or the new one, never a torn one."""
    import threading

    bodies = [{"pad": c * 400_000} for c in "ab"]
    store.put("quotas", "busy", bodies[0])
    done, torn = threading.Event(), []

    def read() -> None:
        while not done.is_set():
            try:
                store.get("quotas", "busy")
            except DiagnosticError as exc:
                torn.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(12):
            store.put("quotas", "busy", bodies[i % 2])
    finally:
        done.set()
        reader.join(timeout=30)
    assert torn == []


def test_a_run_whose_lock_was_taken_over_stops_before_writing(
    host: SimHost, store: DatastoreRecords
) -> None:
    """Fencing: the two-holder gap (three runs breaking one stale lock at once) leaves the
    run that lost the lock unable to write or to admit anything."""
    with store.locked("test"):
        put_lock(host, "taken-over")  # what the third run of the gap leaves behind
        with pytest.raises(DiagnosticError) as failure:
            store.put("quotas", "a", {"limits": {"vcpu": 1}})
        with pytest.raises(DiagnosticError):
            store.confirm_lock()
    assert failure.value.diagnostic.summary == "Platform lock lost"
    assert "taken over by an unknown run while this run held it" in failure.value.diagnostic.detail
    assert store.get("quotas", "a") is None  # nothing written
    assert lock_token(host) == "taken-over"  # and the other run's lock left alone


def test_a_corrupt_record_names_its_readable_previous_copy(
    host: SimHost, store: DatastoreRecords
) -> None:
    store.put("quotas", "a", {"limits": {"vcpu": 1}})
    store.put("quotas", "a", {"limits": {"vcpu": 2}})
    previous = store.files.read("photon-platform/quotas/a.json.1")
    assert previous is not None and json.loads(previous)["limits"] == {"vcpu": 1}
    with probe(host) as p:
        p.write_file("photon-platform/quotas/a.json", b"{torn")
    with pytest.raises(DiagnosticError) as failure:
        store.get("quotas", "a")
    written = json.loads(previous)["updated"]
    assert failure.value.diagnostic.detail == (
        "[LocalDS_0] photon-platform/quotas/a.json on host esx-1 cannot be read: Expecting "
        "property name enclosed in double quotes: line 1 column 2 (char 1). It was not changed. "
        f"Its previous version photon-platform/quotas/a.json.1 (written {written}) can be read: "
        "to recover, copy a.json.1 over a.json in the datastore browser of the host (changes "
        "made after that time are then lost), or repair or remove the file by hand. Then run "
        "Terraform again."
    )


def test_a_removed_record_takes_its_previous_copy_along_and_names_lists_the_rest(
    store: DatastoreRecords,
) -> None:
    for name in ("b", "a", "b"):  # b written twice: it has a previous copy
        store.put("tenants", name, {"hosts": []})
    assert store.files.read("photon-platform/tenants/b.json.1") is not None
    store.remove("tenants", "b")
    assert store.get("tenants", "b") is None
    assert store.files.read("photon-platform/tenants/b.json.1") is None  # no copy outlives it
    store.remove("tenants", "b")  # removing what is gone is fine
    assert store.names("tenants") == ["a"]
    assert store.names("clusters") == []  # no folder yet
