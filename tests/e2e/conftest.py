"""Fixtures for end-to-end tests: real terraform, real provider process, simulated hosts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.healer import heal_config, write_watch_file
from tests.support.node_emulator import NodeEmulator
from tests.support.plugin_client import stop_warm_servers
from tests.support.simulator import Simulator
from tests.support.terraform import (
    Terraform,
    provider_block,
    terraform_environment,
    warm_runtime_dir,
)


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The provider in a private mirror, served through a warm-start server of this session
    (in a runtime folder of its own), which is stopped at the end."""
    assert shutil.which("terraform"), "terraform is not on PATH; run scripts/setup"
    folder = tmp_path_factory.mktemp("terraform")
    yield terraform_environment(folder)
    stop_warm_servers(warm_runtime_dir(folder))


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


@pytest.fixture(scope="module")
def sim2_per_module() -> Iterator[Simulator]:
    """Two hosts with the node image, shared by the tests of one module (the healing
    tests, the ephemeral kubeconfig's)."""
    with Simulator(2, "--image", "images/k8s.vmdk") as simulator:
        yield simulator


@pytest.fixture(scope="module")
def heal_tf(
    sim2_per_module: Simulator,
    tmp_path_factory: pytest.TempPathFactory,
    terraform_env: dict[str, str],
) -> Terraform:
    """A working directory with a 1-master, 4-worker cluster applied on ``sim2_per_module``."""
    workdir = tmp_path_factory.mktemp("heal") / "work"
    workdir.mkdir()
    tf = Terraform(workdir, terraform_env)
    tf.write(provider_block(sim2_per_module.hosts) + heal_config())
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    return tf


@pytest.fixture(scope="module")
def heal_watch(sim2_per_module: Simulator, heal_tf: Terraform) -> Path:
    return write_watch_file(heal_tf.workdir.parent / "watch.json", sim2_per_module.hosts)
