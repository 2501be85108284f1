"""photon_k8s_kubeconfig through the real terraform: a kubeconfig that works and never lands in
a plan file or the state. The cluster is applied once, in a working folder of its own; the
configurations under test use nothing but the ephemeral resource."""

from __future__ import annotations

import base64
import datetime
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from tests.support.cluster import cluster
from tests.support.simulator import Simulator
from tests.support.terraform import Terraform, provider_block

USE = """
ephemeral "photon_k8s_kubeconfig" "ci" {
  cluster = "team-a/prod"
  ttl     = "30m"
  user    = "ci-bot"
  groups  = ["deployers", "viewers"]
}

resource "terraform_data" "deploy" {
  provisioner "local-exec" {
    command     = "printf '%s' \\"$KUBECONFIG_JSON\\" > kubeconfig.json"
    environment = { KUBECONFIG_JSON = ephemeral.photon_k8s_kubeconfig.ci.kubeconfig }
  }
}
"""

BAD = """
ephemeral "photon_k8s_kubeconfig" "{name}" {{
  cluster = "{cluster}"
  ttl     = "{ttl}"
}}
"""


@pytest.fixture(scope="module")
def ca_pem(
    sim2_per_module: Simulator,
    tmp_path_factory: pytest.TempPathFactory,
    terraform_env: dict[str, str],
) -> str:
    """Tenant team-a and cluster prod applied; the cluster CA's PEM from that state."""
    tf = Terraform(tmp_path_factory.mktemp("cluster"), terraform_env)
    tf.write(
        provider_block(sim2_per_module.hosts)
        + 'resource "photon_tenant" "t" {\n  name = "team-a"\n}\n'
        + cluster(workers=1)
    )
    tf.init()
    tf.ok("apply", "-auto-approve", "-no-color")
    shown = json.loads(tf.ok("show", "-json").stdout)
    (state,) = (
        r for r in shown["values"]["root_module"]["resources"] if r["type"] == "photon_k8s_cluster"
    )
    return state["values"]["ca_certificate"]


def saved_bytes(plan: Path) -> bytes:
    with zipfile.ZipFile(plan) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def test_the_kubeconfig_works_and_is_kept_out_of_plan_and_state(
    sim2_per_module: Simulator, ca_pem: str, tf: Terraform
) -> None:
    tf.write(provider_block(sim2_per_module.hosts) + USE)
    tf.init()
    tf.ok("plan", "-out=plan.bin", "-no-color")
    applied = tf.ok("apply", "-auto-approve", "-no-color", "plan.bin")
    opened_at = datetime.datetime.now(datetime.UTC)
    kubeconfig = json.loads((tf.workdir / "kubeconfig.json").read_text())
    user = kubeconfig["users"][0]["user"]
    key_pem = base64.b64decode(user["client-key-data"])
    cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))

    # Usable: signed by the cluster's CA, for the requested user and groups, ~ttl long.
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    cert.verify_directly_issued_by(ca)
    assert base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]) == (
        ca_pem.encode()
    )
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://10.0.0.21:6443"
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "ci-bot"
    groups = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert groups == ["deployers", "viewers"]
    lifetime = cert.not_valid_after_utc - opened_at
    assert datetime.timedelta(minutes=29) < lifetime <= datetime.timedelta(minutes=30)
    key = serialization.load_pem_private_key(key_pem, None)
    assert key.public_key() == cert.public_key()
    viewed = subprocess.run(
        ["kubectl", "config", "view", "--kubeconfig", str(tf.workdir / "kubeconfig.json"),
         "-o", "jsonpath={.users[0].name}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert viewed.stdout == "ci-bot"
    assert "PRIVATE KEY" not in applied.output

    # Kept out: no private key in the saved plan or the state, nor this certificate.
    key_body = b"".join(key_pem.splitlines()[1:-1])
    cert_body = base64.b64encode(cert.public_bytes(serialization.Encoding.DER))[:64]
    for saved in (
        saved_bytes(tf.workdir / "plan.bin"),
        (tf.workdir / "terraform.tfstate").read_bytes(),
    ):
        assert b"PRIVATE KEY" not in saved
        assert key_body not in saved and cert_body not in saved


BAD_TTL = (
    "'soon' is not a duration. Give the certificate's lifetime like 15m, 1h or 1h30m "
    "(from 5m to 24h)."
)
LONG_TTL = (
    "ttl 48h is longer than 24h. A kubeconfig from photon_k8s_kubeconfig lasts one Terraform "
    "run and is minted again by the next; give at most 24h."
)
NO_CLUSTER = (
    "There is no cluster 'team-a/nope' in the platform records. Give the id of a "
    "photon_k8s_cluster (`<tenant>/<name>`), e.g. `photon_k8s_cluster.prod.id`."
)


def test_bad_input_gets_exact_diagnostics(
    sim2_per_module: Simulator, ca_pem: str, tf: Terraform
) -> None:
    tf.write(
        provider_block(sim2_per_module.hosts)
        + BAD.format(name="typo", cluster="team-a/prod", ttl="soon")
        + BAD.format(name="long", cluster="team-a/prod", ttl="48h")
    )
    tf.init()
    invalid = tf.run("validate", "-no-color")
    assert invalid.code == 1
    assert "Error: Invalid ttl with ephemeral.photon_k8s_kubeconfig.typo" in invalid.flat
    assert BAD_TTL in invalid.flat
    assert 'ttl = "soon"' in invalid.flat  # the attribute path: Terraform shows its line
    assert "Error: ttl too long with ephemeral.photon_k8s_kubeconfig.long" in invalid.flat
    assert LONG_TTL in invalid.flat
    assert 'ttl = "48h"' in invalid.flat

    tf.write(
        provider_block(sim2_per_module.hosts)
        + BAD.format(name="x", cluster="team-a/nope", ttl="1h")
    )
    planned = tf.run("plan", "-no-color")
    assert planned.code == 1
    assert "Error: Unknown cluster" in planned.flat and NO_CLUSTER in planned.flat
    assert 'cluster = "team-a/nope"' in planned.flat
    assert "Traceback" not in planned.output + invalid.output
    assert not (tf.workdir / "terraform.tfstate").exists()
