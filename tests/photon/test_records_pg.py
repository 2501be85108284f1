"""The PostgreSQL record store against a real server on loopback (one per module, a fresh
database per test): records, schema migration, the advisory lock, and bad connections."""

from __future__ import annotations

import decimal
import os
import signal
import subprocess
import sys
import threading

import pytest

from provider.bridge.diagnostics import DiagnosticError
from provider.photon.config import RECORDS_PATH
from provider.photon.records.cache import SharedReads
from provider.photon.records.postgres import SCHEMA_VERSION, PostgresRecords
from tests.support.postgres import Postgres


def database(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def test_records_round_trip_in_the_shape_of_the_datastore_store(
    postgres: Postgres, records_url: str
) -> None:
    store = PostgresRecords(records_url)
    store.put("quotas", "a", {"limits": {"vcpu": decimal.Decimal(4), "memory_gb": 1.5}})
    store.put("quotas", "a", {"limits": {"vcpu": decimal.Decimal(8), "memory_gb": 1.5}})
    record = store.get("quotas", "a")
    assert record is not None
    assert {k: v for k, v in record.items() if k != "updated"} == {
        "format": 1, "kind": "quota", "name": "a", "limits": {"vcpu": 8, "memory_gb": 1.5},
    }  # fmt: skip
    when = "2026-01-02T03:04:05.123456+00:00"
    store.put("tenants", "b", {"hosts": ["esx-1"]}, updated=when)  # kept as given (import)
    assert (store.get("tenants", "b") or {})["updated"] == when
    rows = postgres.sql("SELECT kind, name, version FROM photon_records ORDER BY kind, name",
                        database(records_url))  # fmt: skip
    assert rows.splitlines() == ["quotas|a|2", "tenants|b|1"]  # one version per write
    assert store.names("quotas") == ["a"] and store.names("clusters") == []
    store.remove("quotas", "a")
    assert store.get("quotas", "a") is None
    store.close()


def test_the_schema_is_made_once_when_runs_start_together(
    postgres: Postgres, records_url: str
) -> None:
    opened: list[PostgresRecords | Exception] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        barrier.wait()
        try:
            opened.append(PostgresRecords(records_url))
        except Exception as exc:  # reported below
            opened.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(store, PostgresRecords) for store in opened), opened
    assert postgres.sql("SELECT version FROM photon_schema", database(records_url)) == "1"
    for store in opened:
        store.close()  # type: ignore[union-attr]


def test_a_database_of_a_newer_provider_is_refused_and_left_alone(
    postgres: Postgres, records_url: str
) -> None:
    PostgresRecords(records_url).put("tenants", "a", {"hosts": []})
    postgres.sql("INSERT INTO photon_schema (version) VALUES (2)", database(records_url))
    with pytest.raises(DiagnosticError) as failure:
        PostgresRecords(records_url, path=RECORDS_PATH)
    where = records_url.split("?")[0]
    assert failure.value.diagnostic.summary == "Platform records written by a newer provider"
    assert failure.value.diagnostic.detail == (
        f"The records database {where} has schema version 2; this provider knows versions up "
        f"to {SCHEMA_VERSION}. Nothing was changed. Use the newer provider version (every "
        "configuration sharing these records must), or restore the database from the backup "
        "taken before the upgrade."
    )
    assert failure.value.diagnostic.path == RECORDS_PATH
    rows = postgres.sql("SELECT kind, name, version FROM photon_records", database(records_url))
    assert rows == "tenants|a|1"


def test_bad_connections_are_each_one_clear_diagnostic(
    postgres: Postgres, records_url: str
) -> None:
    name = database(records_url)
    postgres.add_password_user("photon_pw", "s3cret-ok")
    postgres.sql(f"ALTER DATABASE {name} OWNER TO photon_pw")
    good = postgres.url(name, "photon_pw", "s3cret-ok")
    PostgresRecords(good).close()  # the right password works
    cases = {
        good.replace(":s3cret-ok@", ":s3cret-bad@"): (
            "PostgreSQL login failed",
            'password authentication failed for user "photon_pw". Check the user and '
            "password in the URL (records.postgres or PHOTON_RECORDS_URL)",
        ),
        good.replace("sslmode=disable", "sslmode=require"): (
            "PostgreSQL TLS failed",
            "server does not support SSL, but SSL was required. Check the URL's TLS options",
        ),
        good.replace(f":{postgres.port}/", ":1/"): (
            "PostgreSQL unreachable",
            "Connection refused",
        ),
        good.replace(f"/{name}?", "/nowhere?"): (
            "PostgreSQL database missing",
            'database "nowhere" does not exist. Create the database (createdb)',
        ),
    }
    for url, (summary, phrase) in cases.items():
        with pytest.raises(DiagnosticError) as failure:
            PostgresRecords(url, path=RECORDS_PATH)
        diagnostic = failure.value.diagnostic
        assert (diagnostic.summary, diagnostic.path) == (summary, RECORDS_PATH), url
        assert phrase in diagnostic.detail, diagnostic.detail
        assert diagnostic.detail.endswith("Nothing was changed."), diagnostic.detail
        assert "s3cret" not in diagnostic.detail  # the password is never shown
    assert postgres.sql("SELECT count(*) FROM photon_records", name) == "0"


_HOLDER = """
import sys, time
from provider.photon.records.postgres import PostgresRecords
store = PostgresRecords(sys.argv[1])
with store.locked("hold for a test"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_run_lets_go_of_the_lock_with_its_connection(records_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, records_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"  # type: ignore[union-attr]
        waiter = PostgresRecords(records_url, lock_wait=0.3)
        with pytest.raises(DiagnosticError) as failure, waiter.locked("test"):
            pass
        assert failure.value.diagnostic.summary == "Platform records are locked"
        assert f"photon {os.uname().nodename}:{holder.pid} hold for a test (server process" in (
            failure.value.diagnostic.detail
        )
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        waiter.lock_wait = 10
        with waiter.locked("after the kill"):
            waiter.put("tenants", "a", {"hosts": []})
        assert waiter.get("tenants", "a") is not None
    finally:
        holder.kill()
        holder.wait()


def test_writes_under_the_lock_are_seen_when_it_is_let_go_even_after_a_failure(
    records_url: str,
) -> None:
    store, other = PostgresRecords(records_url), PostgresRecords(records_url)
    with pytest.raises(DiagnosticError), store.locked("test"):
        store.put("quotas", "a", {"limits": {}})
        assert other.get("quotas", "a") is None  # one transaction: not seen yet
        raise DiagnosticError("a later step failed")
    assert other.get("quotas", "a") is not None  # what was written is kept, as on a datastore


def test_a_write_that_bypassed_the_lock_is_not_overwritten(records_url: str) -> None:
    store, bypass = PostgresRecords(records_url), PostgresRecords(records_url)
    store.put("quotas", "a", {"limits": {"vcpu": 1}})
    with pytest.raises(DiagnosticError) as failure, store.locked("test"):
        store.get("quotas", "a")
        bypass.put("quotas", "a", {"limits": {"vcpu": 2}})  # no lock taken
        store.put("quotas", "a", {"limits": {"vcpu": 3}})
    assert failure.value.diagnostic.summary == "Platform record changed by another run"
    assert (store.get("quotas", "a") or {})["limits"] == {"vcpu": 2}


def test_plain_reads_share_one_query_per_kind_and_reads_under_the_lock_are_fresh(
    records_url: str,
) -> None:
    shared, other = SharedReads(PostgresRecords(records_url)), PostgresRecords(records_url)
    other.put("tenants", "a", {"v": 1})
    assert (shared.get("tenants", "a") or {})["v"] == 1  # the kind is listed once...
    other.put("tenants", "a", {"v": 2})
    other.put("tenants", "b", {"v": 1})
    assert (shared.get("tenants", "a") or {})["v"] == 1  # ...and shared for FRESH seconds
    assert shared.get("tenants", "b") is None
    with shared.locked("admission"):  # under the lock: always the store's latest
        assert (shared.get("tenants", "a") or {})["v"] == 2
        shared.put("tenants", "c", {"v": 1})
    assert (shared.get("tenants", "b") or {})["v"] == 1  # its own write dropped the listing
    shared.close()
    other.close()
