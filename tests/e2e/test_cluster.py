"""photon_k8s_cluster through terraform against simulated hosts."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.e2e.test_quota import state
from tests.e2e.test_tenant import tenant
from tests.support.probe import probe
from tests.support.simulator import Simulator
from tests.support.terraform import Terraform, provider_block

SMALL = "{ vcpu = 1, memory_gb = 0.5, disk_gb = 2 }"


@pytest.fixture
def sim3() -> Iterator[Simulator]:
    with Simulator(3) as simulator:
        for host in simulator.hosts:
            with probe(host) as p:
                p.create_base_disk("images/k8s.vmdk")
        yield simulator


def cluster(etcd: int = 0, masters: int = 1, workers: int = 3, **extra: str) -> str:
    etcd_ips = json.dumps([f"10.0.0.{10 + i}" for i in range(1, etcd + 1)])
    master_ips = json.dumps([f"10.0.0.{20 + i}" for i in range(1, masters + 1)])
    body = "".join(f"\n  {k} = {v}" for k, v in extra.items())
    return f"""
resource "photon_k8s_cluster" "c" {{
  tenant             = photon_tenant.t.id
  name               = "prod"
  kubernetes_version = "1.32.3"
  image              = "images/k8s.vmdk"
  etcd_count         = {etcd}
  master_count       = {masters}
  worker_count       = {workers}
  etcd_ips           = {etcd_ips}
  master_ips         = {master_ips}
  netmask            = "255.255.255.0"
  gateway            = "10.0.0.1"
  etcd_flavor        = {SMALL}
  master_flavor      = {SMALL}
  worker_flavor      = {SMALL}{body}
}}
"""


def cluster_vms(sim: Simulator) -> dict[str, dict[str, str]]:
    """Node name -> host and extraConfig, for every VM that carries cluster marks."""
    found = {}
    for host in sim.hosts:
        with probe(host) as p:
            for vm in p.vms().values():
                extra = p.extra_config(vm)
                if extra.get("photon.cluster") == "prod":
                    found[extra["photon.node"]] = {"host": host.name, **extra}
    return found


def test_create_1_1_3_cluster(sim3: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim3.hosts) + tenant() + cluster(etcd=1, masters=1, workers=3))
    tf.init()
    applied = tf.apply()
    assert applied.code == 0, applied.output
    vms = cluster_vms(sim3)
    assert sorted(vms) == ["etcd-1", "master-1", "worker-1", "worker-2", "worker-3"]
    assert vms["etcd-1"]["host"] != vms["master-1"]["host"]
    assert (
        Counter(v["host"] for k, v in vms.items() if k.startswith("worker")).most_common(1)[0][1]
        == 1
    )
    master = vms["master-1"]
    assert (master["photon.tenant"], master["photon.role"]) == ("team-a", "master")
    userdata = base64.b64decode(master["guestinfo.userdata"]).decode()
    assert userdata.startswith("#cloud-config\n") and "kubeadm init" in userdata
    metadata = json.loads(base64.b64decode(master["guestinfo.metadata"]))
    assert metadata["network"]["ethernets"]["primary"]["addresses"] == ["10.0.0.21/24"]

    values = state(tf, "photon_k8s_cluster.c")
    assert values["api_endpoint"] == "https://10.0.0.21:6443"
    assert values["id"] == "team-a/prod"
    assert set(values["nodes"]) == set(vms)
    assert all(n["status"] == "ready" for n in values["nodes"].values())
    assert json.loads(values["kubeconfig"])["clusters"][0]["cluster"]["server"] == (
        "https://10.0.0.21:6443"
    )
    assert tf.plan().code == 0
