"""Fixtures for end-to-end tests: real terraform, real provider process, simulated hosts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.node_emulator import NodeEmulator
from tests.support.simulator import Simulator
from tests.support.terraform import Terraform, terraform_environment


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    assert shutil.which("terraform"), "terraform is not on PATH; run scripts/setup"
    return terraform_environment(tmp_path_factory.mktemp("terraform"))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(2) as simulator:
        yield simulator


@pytest.fixture
def sim3() -> Iterator[Simulator]:
    """Three hosts with a node base disk on each: enough to spread a control plane."""
    with Simulator(3, "--image", "images/k8s.vmdk") as simulator:
        yield simulator


@pytest.fixture
def tf(tmp_path: Path, terraform_env: dict[str, str]) -> Terraform:
    return Terraform(tmp_path, terraform_env)


@pytest.fixture(scope="module")
def sim3_per_module() -> Iterator[Simulator]:
    """Three hosts with a node image, shared by the tests of one module: for slow tests that
    keep apart by tenant and cluster names (and node addresses)."""
    with Simulator(3, "--image", "images/k8s.vmdk") as simulator:
        yield simulator


@pytest.fixture
def nodes_sandbox(tmp_path: Path) -> Iterator[NodeEmulator]:
    """Node VMs' boot data run on this machine; every process stopped at the end."""
    sandbox = tmp_path / "nodes"
    sandbox.mkdir()
    with NodeEmulator(sandbox) as emulator:
        yield emulator
