"""Cluster values for unit tests: a planned or prior ``Value`` as Terraform would send it."""

from __future__ import annotations

from typing import Any

from provider.bridge.cty import Value
from provider.photon.cluster.model import ClusterModel
from provider.photon.cluster.schema import SCHEMA

FLAVOR = {"vcpu": 2, "memory_gb": 4, "disk_gb": 20}
BASE: dict[str, Any] = {
    "tenant": "team-a",
    "name": "prod",
    "kubernetes_version": "1.32.3",
    "image": "images/k8s.vmdk",
    "worker_image": "images/k8s.vmdk",
    "network": "VM Network",
    "etcd_count": 0,
    "master_count": 3,
    "worker_count": 3,
    "worker_batch_size": 10,
    "etcd_flavor": {"vcpu": 1, "memory_gb": 2, "disk_gb": 10},
    "master_flavor": FLAVOR,
    "worker_flavor": FLAVOR,
    "pod_cidr": "10.244.0.0/16",
    "service_cidr": "10.96.0.0/12",
    "netmask": "24",
    "gateway": "127.0.1.1",
    "master_ips": ["127.0.1.11", "127.0.1.12", "127.0.1.13"],
}


def cluster_value(nodes: dict[str, dict[str, Any]] | None = None, **attrs: Any) -> Value:
    blank = dict.fromkeys(SCHEMA.value_type().attrs)
    return Value.from_python(SCHEMA.value_type(), {**blank, **BASE, "nodes": nodes, **attrs})


def node(role: str, status: str = "ready", host: str = "esx-1", vm: str = "vm-1") -> dict:
    """A node as the state holds it; its build unknown (a state from before it was kept), so
    the prior configuration's build is taken."""
    build = dict.fromkeys(("kubernetes_version", "image", "flavor"))
    return {"role": role, "host": host, "vm_id": vm, "ip": None, "mac": None, "status": status,
            **build}  # fmt: skip


def standing(statuses: dict[str, str] | None = None, workers: int = 3) -> dict[str, dict]:
    """Three masters and ``workers`` workers, ready unless ``statuses`` says otherwise."""
    names = [f"master-{i}" for i in (1, 2, 3)] + [f"worker-{i}" for i in range(1, workers + 1)]
    statuses = statuses or {}
    return {
        n: node(n.split("-")[0], statuses.get(n, "ready"), vm=f"vm-{i}")
        for i, n in enumerate(names, 10)
    }


def model(nodes: dict[str, dict[str, Any]] | None = None, **attrs: Any) -> ClusterModel:
    return ClusterModel.decode(cluster_value(nodes, **attrs))
