"""The reusable modules' own `terraform test` suites, run against a simulated host."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.simulator import TOP, Simulator
from tests.support.terraform import Terraform


@pytest.mark.parametrize(("module", "runs"), [("tenant", 3), ("k8s-cluster", 3)])
def test_module_suite_passes(module: str, runs: int, tf: Terraform, tmp_path: Path) -> None:
    shutil.copytree(TOP / "modules" / module, tmp_path / module)
    work = Terraform(tmp_path / module, tf.env)
    with Simulator(1, "--image", "images/k8s.vmdk") as sim:
        host = sim.hosts[0]
        env = {
            "PHOTON_HOST": host.address,
            "PHOTON_PASSWORD": host.password,
            "PHOTON_THUMBPRINT": host.thumbprint,
        }
        work.ok("init", "-no-color")
        tested = work.run("test", "-no-color", env=env, timeout=300)
    assert tested.code == 0, tested.output
    assert f"Success! {runs} passed, 0 failed." in tested.stdout
