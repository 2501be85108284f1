"""The examples run as they are: the quickstart against simulated hosts, the rest validate."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.support.simulator import TOP, Simulator
from tests.support.tenancy import pools
from tests.support.terraform import RECORDS_KEY, Terraform, provider_block


def test_quickstart_applies_and_destroys(tf: Terraform) -> None:
    with Simulator(2, "--image", "images/k8s.vmdk") as sim:
        quickstart(sim, tf)


def quickstart(sim: Simulator, tf: Terraform) -> None:
    shutil.copy(TOP / "examples" / "quickstart" / "main.tf", tf.workdir)
    tfvars = {
        "esxi_hosts": [
            {"name": h.name, "address": h.address, "user": h.user, "thumbprint": h.thumbprint}
            for h in sim.hosts
        ],
        "esxi_passwords": {h.name: h.password for h in sim.hosts},
        "records_key": RECORDS_KEY,
    }
    (tf.workdir / "terraform.tfvars.json").write_text(json.dumps(tfvars))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    assert pools(sim) == {"esx-1": ["photon-tenant-demo"], "esx-2": ["photon-tenant-demo"]}
    assert all(h.password not in applied.output for h in sim.hosts)
    outputs = json.loads(tf.ok("output", "-json").stdout)
    assert outputs["api_endpoint"]["value"] == "https://10.0.0.21:6443"
    assert sorted(outputs["nodes"]["value"]) == ["master-1", "worker-1", "worker-2"]
    assert outputs["kubeconfig"]["sensitive"] is True
    assert tf.plan().code == 0
    assert tf.destroy().code == 0
    assert pools(sim) == {"esx-1": [], "esx-2": []}


def test_resource_data_source_and_ephemeral_examples_validate(tf: Terraform) -> None:
    examples = TOP / "examples"
    shutil.copy(examples / "provider" / "provider.tf", tf.workdir)
    for folder in sorted((examples / "resources").iterdir()):
        shutil.copy(folder / "resource.tf", tf.workdir / f"{folder.name}.tf")
    for folder in sorted((examples / "data-sources").iterdir()):
        shutil.copy(folder / "data-source.tf", tf.workdir / f"data.{folder.name}.tf")
    for folder in sorted((examples / "ephemeral-resources").iterdir()):
        shutil.copy(folder / "ephemeral-resource.tf", tf.workdir / f"ephemeral.{folder.name}.tf")
    tf.write(
        'terraform {\n  required_providers {\n    photon = { source = "photon-platform/photon" }'
        "\n  }\n}\n",
        "versions.tf",
    )
    tf.init()
    validated = tf.run("validate", "-no-color")
    assert validated.code == 0, validated.output
    assert Path(tf.workdir / ".terraform.lock.hcl").exists()


def host_vars(sim: Simulator) -> str:
    return json.dumps(
        {
            "esxi_hosts": [
                {"name": h.name, "address": h.address, "user": h.user, "thumbprint": h.thumbprint}
                for h in sim.hosts
            ],
            "esxi_passwords": {h.name: h.password for h in sim.hosts},
        }
    )


def example(name: str, root: Path, env: dict[str, str]) -> Terraform:
    """A copy of examples/<name> beside a copy of modules/, as the example expects."""
    shutil.copytree(TOP / "examples" / name, root / "examples" / name)
    shutil.copytree(TOP / "modules", root / "modules", dirs_exist_ok=True)
    return Terraform(root / "examples" / name, env)


def test_multi_tenant_example(tf: Terraform, tmp_path: Path) -> None:
    with Simulator(2, "--image", "images/k8s.vmdk") as sim:
        work = example("multi-tenant", tmp_path, tf.env)
        (work.workdir / "terraform.tfvars.json").write_text(host_vars(sim))
        work.init()
        applied = work.apply()
        assert applied.code == 0, applied.output
        outputs = json.loads(work.ok("output", "-json").stdout)
        assert outputs["api_endpoints"]["value"] == {
            "payments": "https://10.0.1.21:6443",
            "search": "https://10.0.2.21:6443",
        }
        assert work.apply("-refresh-only").code == 0  # usage is counted live, at refresh
        usage = json.loads(work.ok("output", "-json").stdout)["usage"]["value"]
        assert usage["payments"]["vm_count"] == 3 and usage["search"]["vm_count"] == 3
        assert work.plan().code == 0
        assert work.destroy().code == 0
        assert pools(sim) == {"esx-1": [], "esx-2": []}


def test_ci_pipeline_example_heals_drift_with_state_in_postgres(
    tf: Terraform, tmp_path: Path
) -> None:
    from tests.support.postgres import Postgres
    from tests.support.probe import probe

    database = Postgres()
    try:
        with Simulator(2, "--image", "images/k8s.vmdk") as sim:
            work = example("ci-pipeline", tmp_path, tf.env)
            (work.workdir / "terraform.tfvars.json").write_text(host_vars(sim))
            env = {**tf.env, "PG_CONN_STR": database.conn_str}

            def ci() -> subprocess.CompletedProcess[str]:
                return subprocess.run(
                    [str(work.workdir / "ci.sh")], env=env, capture_output=True, text=True,
                    timeout=300,
                )  # fmt: skip

            first = ci()
            assert first.returncode == 0 and "drift found, applying" in first.stdout, first
            assert "ci: no drift" in ci().stdout
            assert not (work.workdir / "terraform.tfstate").exists()  # the state is in pg

            state = json.loads(work.ok("show", "-json", env=env).stdout)
            cluster = next(
                r for r in state["values"]["root_module"]["resources"]
                if r["type"] == "photon_k8s_cluster"
            )  # fmt: skip
            node = cluster["values"]["nodes"]["worker-1"]
            with probe(sim[node["host"]]) as p:
                p.destroy_vm(node["vm_id"])
            healed = ci()
            assert healed.returncode == 0 and "drift found, applying" in healed.stdout, healed
            assert "ci: no drift" in ci().stdout
            assert work.run("destroy", "-auto-approve", "-no-color", env=env).code == 0
    finally:
        database.stop()


def test_two_applies_on_one_pg_state_never_corrupt_it(tf: Terraform, tmp_path: Path) -> None:
    from tests.support.postgres import Postgres

    database = Postgres()
    try:
        with Simulator(2) as sim:
            env = {**tf.env, "PG_CONN_STR": database.conn_str}
            runs = []
            for index in range(2):
                work = Terraform(tmp_path / f"run{index}", env)
                work.workdir.mkdir()
                work.write(
                    provider_block(sim.hosts).replace(
                        "terraform {\n", 'terraform {\n  backend "pg" {}\n', 1
                    )
                    + f'resource "photon_tenant" "t" {{\n  name = "shared"\n'
                    f'  description = "run {index}"\n}}\n'
                )
                work.init()
                runs.append(work)
            procs = [w.start_apply() for w in runs]
            results = [(p.wait(timeout=120), p.stdout.read()) for p in procs]  # type: ignore[union-attr]
            codes = sorted(code for code, _ in results)
            assert codes[0] == 0, results
            if codes[1] != 0:  # the other met the lock and said so
                loser = next(out for code, out in results if code != 0)
                assert "Error acquiring the state lock" in loser, loser
            listed = runs[0].ok("state", "list").stdout.split()
            assert listed == ["photon_tenant.t"]  # one tenant, state whole
            assert runs[0].ok("show", "-json").stdout.startswith("{")
            assert pools(sim) == {
                "esx-1": ["photon-tenant-shared"],
                "esx-2": ["photon-tenant-shared"],
            }
            assert runs[0].destroy().code == 0
    finally:
        database.stop()
