"""Cluster secrets sealed in the platform records (records { encryption_keys } or
PHOTON_RECORDS_KEY): nothing secret in the datastore file, a plan without the right key
refused naming the key it needs (never a key) with nothing changed, rotation by `records
rekey`, and a warning once per run when no key is set."""

from __future__ import annotations

import base64
import json

from provider.photon.records.crypto import key_id
from tests.support.cluster import cluster, marked_vms
from tests.support.records import Records, datastore_env, records_cli
from tests.support.simulator import Simulator
from tests.support.tenancy import tenant
from tests.support.terraform import RECORDS_KEY, Terraform, provider_block

NEW_KEY = base64.b64encode(bytes(range(100, 132))).decode()


def test_secrets_are_sealed_a_missing_key_is_refused_at_plan_and_keys_rotate(
    sim3: Simulator, tf: Terraform
) -> None:
    hcl = provider_block(sim3.hosts) + tenant()
    tf.write(hcl + cluster(workers=1))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0 and "unencrypted" not in applied.flat, applied.output
    stored = Records(sim3["esx-1"]).get("clusters", "team-a.prod")
    assert stored is not None and stored["pki"]["sealed"] == "aes-256-gcm"
    assert stored["pki"]["key_id"] == key_id(base64.b64decode(RECORDS_KEY))
    assert "PRIVATE KEY" not in json.dumps(stored) and stored["spec"]["worker_count"] == 1
    vms = marked_vms(sim3.hosts)

    tf.write(hcl + cluster(workers=2))  # a change, planned with another key only
    refused = tf.run("plan", "-no-color", env={"PHOTON_RECORDS_KEY": NEW_KEY})
    assert refused.code == 1
    assert "Error: Platform records key missing" in refused.flat
    needed, configured = key_id(base64.b64decode(RECORDS_KEY)), key_id(base64.b64decode(NEW_KEY))
    assert f"clusters/team-a.prod holds cluster secrets sealed with key {needed}" in refused.flat
    assert f"configured key ids: {configured}" in refused.flat
    assert NEW_KEY not in refused.output and RECORDS_KEY not in refused.output
    assert marked_vms(sim3.hosts) == vms  # nothing changed

    rotate = {**datastore_env(sim3["esx-1"]), "PHOTON_RECORDS_KEY": f"{NEW_KEY},{RECORDS_KEY}"}
    rekeyed = records_cli(["rekey"], rotate)
    assert rekeyed.returncode == 0, rekeyed.stderr
    stored = Records(sim3["esx-1"]).get("clusters", "team-a.prod")
    assert stored is not None and stored["pki"]["key_id"] == configured
    exported = records_cli(["export"], rotate)  # as stored: sealed
    assert exported.returncode == 0 and "PRIVATE KEY" not in exported.stdout
    clear = records_cli(["export", "--decrypt"], rotate)
    assert "PRIVATE KEY" in clear.stdout and "the export holds cluster secrets in clear" in (
        clear.stderr
    )
    grown = tf.run("apply", "-auto-approve", "-no-color", env={"PHOTON_RECORDS_KEY": NEW_KEY})
    assert grown.code == 0, grown.output  # the new key alone opens the rekeyed record


def test_without_a_key_a_plan_that_writes_secrets_warns_once(
    sim3: Simulator, tf: Terraform
) -> None:
    del tf.env["PHOTON_RECORDS_KEY"]
    hcl = provider_block(sim3.hosts) + tenant()
    tf.write(hcl + cluster(workers=1) + cluster(workers=1, name="other").replace('"c"', '"d"'))
    tf.init()
    planned = tf.plan()
    assert planned.code == 2, planned.output
    assert planned.flat.count("Warning: Cluster secrets are stored unencrypted") == 1
    assert "openssl rand -base64 32" in planned.flat
