"""A photon_k8s_cluster under test: its HCL, its nodes as Terraform's state holds them, and its
VMs on the simulated hosts (found by their marks; deleted or powered off as a failure would)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

from .probe import probe
from .simulator import SimHost, Simulator
from .terraform import Terraform, planned_change

SMALL = "{ vcpu = 1, memory_gb = 0.5, disk_gb = 2 }"
# Rolls in tests that are not about draining: the simulated nodes have no Kubernetes API, and
# the default drain would try the cluster's address (not a loopback one).
NO_DRAIN = '  rollout {\n    drain_timeout = "0s"\n  }'


def cluster_hcl(
    etcd_ips: Sequence[str],
    master_ips: Sequence[str],
    workers: int,
    *,
    name: str = "prod",
    netmask: str = "255.255.255.0",
    gateway: str | None = "10.0.0.1",
    raw: str = "",
    **extra: str,
) -> str:
    """``photon_k8s_cluster.c`` in tenant ``photon_tenant.t``, small flavors; ``extra``
    attributes and ``raw`` HCL (blocks) are added."""
    body = "".join(f"\n  {k} = {v}" for k, v in extra.items())
    route = f'\n  gateway            = "{gateway}"' if gateway else ""
    return f"""
resource "photon_k8s_cluster" "c" {{
  tenant             = photon_tenant.t.id
  name               = "{name}"
  kubernetes_version = "1.32.3"
  image              = "images/k8s.vmdk"
  etcd_count         = {len(etcd_ips)}
  master_count       = {len(master_ips)}
  worker_count       = {workers}
  etcd_ips           = {json.dumps(list(etcd_ips))}
  master_ips         = {json.dumps(list(master_ips))}
  netmask            = "{netmask}"{route}
  etcd_flavor        = {SMALL}
  master_flavor      = {SMALL}
  worker_flavor      = {SMALL}{body}
{raw}
}}
"""


def cluster(etcd: int = 0, masters: int = 1, workers: int = 3, raw: str = "", **extra: str) -> str:
    """The usual cluster ``prod``: etcd at 10.0.0.11.., masters at 10.0.0.21.."""
    etcd_ips = [f"10.0.0.{10 + i}" for i in range(1, etcd + 1)]
    master_ips = [f"10.0.0.{20 + i}" for i in range(1, masters + 1)]
    return cluster_hcl(etcd_ips, master_ips, workers, raw=raw, **extra)


def nodes(tf: Terraform, address: str = "photon_k8s_cluster.c") -> dict[str, dict[str, Any]]:
    """The cluster's ``nodes`` as the state holds them (``show -json``, stdout only)."""
    return tf.resource_values(address)["nodes"]


def planned_nodes(
    shown: dict[str, Any], address: str = "photon_k8s_cluster.c"
) -> dict[str, tuple[str, str, set[str]]]:
    """Node -> (status before, status after, attributes unknown after), for the nodes a
    plan from ``saved_plan`` changes."""
    change = planned_change(shown, address)
    before, after = change["before"]["nodes"], change["after"]["nodes"]
    unknown = change["after_unknown"].get("nodes") or {}
    return {
        name: (before[name]["status"], after[name]["status"], {k for k, v in marks.items() if v})
        for name in before
        for marks in [unknown.get(name) or {}]
        if before[name] != after[name] or marks
    }


def delete_vm(sim: Simulator, *lost: dict[str, Any]) -> None:
    for node in lost:
        with probe(sim[node["host"]]) as p:
            p.destroy_vm(node["vm_id"])


def power_off(sim: Simulator, node: dict[str, Any]) -> None:
    with probe(sim[node["host"]]) as p:
        p.power_off(node["vm_id"])


def marked_vms(
    hosts: Iterable[SimHost], cluster: str = "prod"
) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Node name -> host name, VM id and extraConfig, for every VM on ``hosts`` that
    carries the marks of ``cluster``."""
    found = {}
    for host in hosts:
        with probe(host) as p:
            for vm in p.vms().values():
                extra = p.extra_config(vm)
                if extra.get("photon.cluster") == cluster:
                    found[extra["photon.node"]] = (host.name, vm._moId, extra)
    return found


def cluster_vms(sim: Simulator, down: tuple[str, ...] = ()) -> dict[str, dict[str, str]]:
    """Node name -> host and extraConfig, for every VM that carries cluster marks (on the
    hosts that are not ``down``)."""
    hosts = [h for h in sim.hosts if h.name not in down]
    return {n: {"host": host, **extra} for n, (host, _, extra) in marked_vms(hosts).items()}


def state_pki(tf: Terraform, address_type: str = "photon_k8s_cluster") -> dict[str, Any]:
    """The cluster's secrets as its state's private data holds them (``state pull``)."""
    state = json.loads(tf.ok("state", "pull").stdout)
    resource = next(r for r in state["resources"] if r["type"] == address_type)
    return json.loads(base64.b64decode(resource["instances"][0]["private"]))["pki"]
