"""The examples run as they are: the quickstart against simulated hosts, the rest validate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.test_tenant import pools
from tests.support.simulator import TOP, Simulator
from tests.support.terraform import Terraform


def test_quickstart_applies_and_destroys(sim: Simulator, tf: Terraform) -> None:
    shutil.copy(TOP / "examples" / "quickstart" / "main.tf", tf.workdir)
    tfvars = {
        "esxi_hosts": [
            {"name": h.name, "address": h.address, "user": h.user, "thumbprint": h.thumbprint}
            for h in sim.hosts
        ],
        "esxi_passwords": {h.name: h.password for h in sim.hosts},
    }
    (tf.workdir / "terraform.tfvars.json").write_text(json.dumps(tfvars))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    assert pools(sim) == {"esx-1": ["photon-tenant-demo"], "esx-2": ["photon-tenant-demo"]}
    assert all(h.password not in applied.output for h in sim.hosts)
    assert tf.plan().code == 0
    assert tf.destroy().code == 0
    assert pools(sim) == {"esx-1": [], "esx-2": []}


def test_resource_and_data_source_examples_validate(tf: Terraform) -> None:
    examples = TOP / "examples"
    shutil.copy(examples / "provider" / "provider.tf", tf.workdir)
    for folder in sorted((examples / "resources").iterdir()):
        shutil.copy(folder / "resource.tf", tf.workdir / f"{folder.name}.tf")
    for folder in sorted((examples / "data-sources").iterdir()):
        shutil.copy(folder / "data-source.tf", tf.workdir / f"data.{folder.name}.tf")
    tf.write(
        'terraform {\n  required_providers {\n    photon = { source = "photon-platform/photon" }'
        "\n  }\n}\n",
        "versions.tf",
    )
    tf.init()
    validated = tf.run("validate", "-no-color")
    assert validated.code == 0, validated.output
    assert Path(tf.workdir / ".terraform.lock.hcl").exists()
