"""Platform records in PostgreSQL through terraform: bad connections as diagnostics on
``records.postgres``, the database killed in the middle of an apply, and the records moved
from the datastore into PostgreSQL and back with ``records export|import``."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from provider.photon.records.postgres import PostgresRecords
from tests.support.postgres import Postgres
from tests.support.probe import probe
from tests.support.records import Records, datastore_env, records_cli
from tests.support.simulator import Simulator
from tests.support.tenancy import quota, tenant
from tests.support.terraform import Result, Terraform, provider_block


@pytest.fixture(scope="module")
def sim2() -> Iterator[Simulator]:
    """Two hosts shared by this module's tests, which keep apart by tenant names."""
    with Simulator(2) as simulator:
        yield simulator


_SENSITIVE_URL = """
variable "records_url" {
  type      = string
  sensitive = true
}
"""


def database(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def test_bad_connections_are_diagnostics_on_records_postgres_and_change_nothing(
    sim2: Simulator, tf: Terraform, postgres: Postgres
) -> None:
    newer = postgres.new_database()  # as a newer provider version leaves it
    postgres.sql(
        "CREATE TABLE photon_schema (version integer PRIMARY KEY, applied timestamptz); "
        "INSERT INTO photon_schema VALUES (1, now()), (2, now())",
        database(newer),
    )
    good = postgres.new_database()
    cases = {
        good.replace(f":{postgres.port}/", ":1/"): "PostgreSQL unreachable",
        good.replace("postgres@", "postgres:nope@").replace("sslmode=disable", "sslmode=require"):
            "PostgreSQL TLS failed",
        good.replace(database(good), "nowhere"): "PostgreSQL database missing",
        newer: "Platform records written by a newer provider",
    }  # fmt: skip
    from_variable = "\n  records {\n    postgres = var.records_url\n  }"
    tf.write(provider_block(sim2.hosts, from_variable) + _SENSITIVE_URL + tenant("bad-input"))
    tf.init()
    for url, summary in cases.items():
        applied = tf.run("apply", "-auto-approve", "-no-color", env={"TF_VAR_records_url": url})
        assert applied.code == 1, applied.output
        assert f"Error: {summary}" in applied.flat, applied.output
        assert 'in provider "photon": ' in applied.flat  # pointed at records.postgres
        assert "postgres = var.records_url" in applied.flat
        assert "nope" not in applied.output  # the password never appears
    assert f"{database(newer)} has schema version 2; this provider knows versions up to 1" in (
        applied.flat
    )
    for host in sim2.hosts:
        with probe(host) as p:
            assert "photon-tenant-bad-input" not in p.pool_names()  # nothing done on the hosts


def test_a_database_killed_mid_apply_keeps_partial_state_and_the_next_apply_converges(
    sim2: Simulator, tf: Terraform, postgres: Postgres
) -> None:
    """The second tenant's record write is held up (the test has the same row inserted in an
    open transaction) until the database is killed: the first tenant stays in the state, the
    second's pools are taken back, and the next apply makes it."""
    url = postgres.new_database()
    records = Records(sim2["esx-1"], url)
    PostgresRecords(url).close()  # the tables, as a first run leaves them
    second = tenant("second", depends_on="[photon_tenant.first]")
    hcl = provider_block(sim2.hosts, records.hcl) + tenant("first") + second
    tf.write(hcl.replace('"t"', '"first"', 1).replace('"t"', '"second"', 1))
    tf.init()
    blocker = psycopg.connect(url)
    blocker.execute("INSERT INTO photon_records VALUES ('tenants', 'second', '{}', now())")
    outcome: list[Result] = []
    apply = threading.Thread(target=lambda: outcome.append(tf.apply()))
    apply.start()
    try:
        wait_for_a_blocked_write(url)
        postgres.kill()
    finally:
        apply.join()
        postgres.start()
    applied = outcome[0]
    assert applied.code == 1, applied.output
    assert "Error: PostgreSQL connection lost" in applied.flat, applied.output
    assert tf.resource_values("photon_tenant.first")["hosts"] == ["esx-1", "esx-2"]  # kept
    shown = json.loads(tf.ok("show", "-json").stdout)["values"]["root_module"]["resources"]
    assert [r["address"] for r in shown] == ["photon_tenant.first"]
    with probe(sim2["esx-2"]) as p:
        assert "photon-tenant-second" not in p.pool_names()  # taken back: no record
    again = tf.apply()
    assert again.code == 0, again.output
    assert tf.plan().code == 0
    assert (records.get("tenants", "second") or {})["hosts"] == ["esx-1", "esx-2"]
    with probe(sim2["esx-2"]) as p:
        assert {"photon-tenant-first", "photon-tenant-second"} <= set(p.pool_names())


def wait_for_a_blocked_write(url: str) -> None:
    """Until a provider's statement waits for the test's open transaction."""
    deadline = time.monotonic() + 60
    with psycopg.connect(url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise AssertionError("no provider write was held up")


def test_records_move_to_postgres_and_back_unchanged(
    sim2: Simulator, tf: Terraform, postgres: Postgres, tmp_path: Path
) -> None:
    host = sim2["esx-1"]
    hcl = tenant("moving") + quota("{ vcpu = 8 }", tenant_ref="photon_tenant.t.id")
    tf.write(provider_block(sim2.hosts) + hcl)
    tf.init()
    assert tf.apply().code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTON_")}
    on_datastore = datastore_env(host)
    url = postgres.new_database()
    postgres_env = {**env, "PHOTON_RECORDS_URL": url}

    exported = records_cli(["export", str(tmp_path / "from-datastore.json")], on_datastore)
    assert exported.returncode == 0, exported.stderr
    into = records_cli(["import", str(tmp_path / "from-datastore.json")], postgres_env)
    assert into.returncode == 0, into.stderr
    assert "Imported 2 records; all read back equal." in into.stderr
    back = records_cli(["export", str(tmp_path / "from-postgres.json")], postgres_env)
    assert back.returncode == 0, back.stderr
    first = json.loads((tmp_path / "from-datastore.json").read_text())
    assert [(r["kind"], r["name"]) for r in first["records"]] == [
        ("tenant", "moving"), ("quota", "moving"),
    ]  # fmt: skip
    assert json.loads((tmp_path / "from-postgres.json").read_text()) == first

    # The configuration now uses PostgreSQL: nothing to change, and it keeps working.
    tf.write(provider_block(sim2.hosts, Records(host, url).hcl) + hcl)
    assert tf.plan().code == 0
    tf.write(provider_block(sim2.hosts, Records(host, url).hcl)
             + hcl.replace("vcpu = 8", "vcpu = 6"))  # fmt: skip
    assert tf.apply().code == 0
    assert Records(host, url).get("quotas", "moving") == {"limits": {
        "vm_count": None, "vcpu": 6, "memory_gb": None, "disk_gb": None}}  # fmt: skip

    # And back onto the datastore, where the changed quota arrives.
    latest = records_cli(["export", str(tmp_path / "latest.json")], postgres_env)
    assert latest.returncode == 0, latest.stderr
    home = records_cli(["import", str(tmp_path / "latest.json")], on_datastore)
    assert home.returncode == 0, home.stderr
    assert (Records(host).get("quotas", "moving") or {})["limits"]["vcpu"] == 6
