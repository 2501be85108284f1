"""The schema of photon_k8s_cluster, and its defaults."""

from __future__ import annotations

import dataclasses

from ...bridge.cty import BOOL, NUMBER, STRING, List
from ...bridge.schema import Attribute, Block, NestedAttributes, NestedBlock, Nesting, Schema
from ...bridge.validators import (
    Message,
    at_least,
    between,
    cidr,
    count_or_percentage,
    duration,
    each,
    ipv4,
    matches,
    netmask,
    one_of,
)
from ..names import NAME_PATTERN, TENANT_NAME_RULE, tenant_name_validator
from .nodes import Flavor

__all__ = ["DEFAULT_FLAVORS", "NODES_TYPE", "SCHEMA", "TYPE_NAME"]

DEFAULT_FLAVORS = {
    "etcd": Flavor(vcpu=1, memory_gb=2, disk_gb=10),
    "master": Flavor(vcpu=2, memory_gb=4, disk_gb=20),
    "worker": Flavor(vcpu=2, memory_gb=4, disk_gb=20),
}
_ADDRESS = ipv4()
_ADDRESSES = each(_ADDRESS)
_COUNT = "Invalid count"


def _flavor(role: str) -> Attribute:
    change = f"Changing it replaces the {role} VMs one at a time (see the upgrades guide)."
    return Attribute(
        f"{role}_flavor",
        nested=NestedAttributes(
            (
                Attribute("vcpu", NUMBER, "Virtual CPUs.", required=True,
                          validators=(at_least(1, whole=True, summary="Invalid flavor"),)),
                Attribute("memory_gb", NUMBER, "Memory in GB.", required=True,
                          validators=(at_least(0.25, summary="Invalid flavor"),)),
                Attribute("disk_gb", NUMBER, "Disk in GB (the base disk is grown to it).",
                          required=True,
                          validators=(at_least(1, whole=True, summary="Invalid flavor"),)),
            )
        ),
        description=f"Size of each {role} VM. {change}",
        optional=True,
        computed=True,
        default=dataclasses.asdict(DEFAULT_FLAVORS[role]),
    )  # fmt: skip


_NODE = NestedAttributes(
    (
        Attribute("role", STRING, "`etcd`, `master` or `worker`.", computed=True),
        Attribute("host", STRING, "The host the node's VM runs on.", computed=True),
        Attribute("vm_id", STRING, "The VM's managed object id on its host.", computed=True),
        Attribute("ip", STRING, "Static address; null with DHCP.", computed=True),
        Attribute(
            "mac",
            STRING,
            "MAC address of the node's NIC (kept when a removed NIC is put back).",
            computed=True,
        ),
        Attribute(
            "status",
            STRING,
            "`ready`, `booting` (on, no ready report yet), or what is wrong: "
            "`never_ready`, `not_ready`, `guest_hung`, `powered_off`, `host_maintenance`, "
            "`network_lost`, `port_group_lost`, `disk_lost` or `lost`; `leftover` for a VM "
            "an interrupted run left (`node@host/vm-id`), which the plan removes (see the "
            "drift guide).",
            computed=True,
        ),
        Attribute(
            "kubernetes_version",
            STRING,
            "The Kubernetes version the node's VM was "
            "made for (an upgrade replaces the nodes one at a time).",
            computed=True,
        ),
        Attribute("image", STRING, "The base disk the node's VM was made from.", computed=True),
        Attribute(
            "flavor",
            STRING,
            "The size the node's VM was made with: `<vcpu>/<memory_gb>/<disk_gb>`.",
            computed=True,
        ),
    ),
    Nesting.MAP,
)
_HEALTH = Block(
    description="How refresh and plan treat unhealthy nodes.",
    attributes=(
        Attribute(
            "enabled",
            BOOL,
            "Restore unhealthy nodes (default true); false only reports them.",
            optional=True,
        ),
        Attribute(
            "grace_period",
            STRING,
            "How long a powered-off node is only reported "
            "before it is replaced, a node with a lost NIC before its NIC is put back, and a "
            "hung or not ready node before its VM is reset, e.g. `5m` (default). A deleted VM "
            "or lost disk is replaced at once.",
            optional=True,
            validators=(duration(Message("Invalid grace period", "{error}")),),
        ),
        Attribute(
            "max_unhealthy",
            STRING,
            "Above this many unhealthy nodes (a count, or a "
            "percentage of the cluster like `50%`, the default) nothing is restored.",
            optional=True,
            validators=(
                count_or_percentage(
                    Message(
                        "Invalid max_unhealthy",
                        "{error}: give a count like 2 or a percentage like 30%.",
                    )
                ),
            ),
        ),
        Attribute(
            "power_on",
            BOOL,
            "Power on powered-off nodes within the grace period (default false).",
            optional=True,
        ),
        Attribute(
            "startup_timeout",
            STRING,
            "How long a node may take from its boot (a power-on, a reboot, a reset, as first "
            "seen by the provider) to report ready, e.g. "
            "`10m` (default). After it, a node that never reported ready is replaced, and "
            "one that a reset did not bring back is replaced too.",
            optional=True,
            validators=(duration(Message("Invalid startup timeout", "{error}")),),
        ),
        Attribute(
            "rebuild_lone_control_plane",
            BOOL,
            "Restore the only member of the cluster's etcd (the one master with stacked "
            "etcd, or the one etcd VM) as a new, empty one (default false). Every Kubernetes "
            "object of the cluster is lost; without it, plan refuses such a restore.",
            optional=True,
        ),
    ),
)
_READINESS = Block(
    description="Whether apply waits for the nodes it makes to report ready.",
    attributes=(
        Attribute(
            "wait",
            BOOL,
            "Create, growth, rolls and restores wait until each node they made reports "
            "`ready` (default true); a node that reports `failed` fails the apply at once.",
            optional=True,
        ),
        Attribute(
            "timeout",
            STRING,
            "How long apply waits for the nodes, e.g. `15m` (default).",
            optional=True,
            validators=(duration(Message("Invalid readiness timeout", "{error}")),),
        ),
    ),
)
_ROLLOUT = Block(
    description="How an upgrade (a roll) replaces nodes.",
    attributes=(
        Attribute(
            "drain_timeout",
            STRING,
            "How long a master or worker may take to drain through the cluster's Kubernetes "
            "API before its VM is replaced (cordon, evictions that respect "
            "PodDisruptionBudgets, its pods gone, its Node deleted), e.g. `10m` (default). "
            "`0s`: no drain; its pods stop with the VM and restart elsewhere.",
            optional=True,
            validators=(duration(Message("Invalid drain timeout", "{error}")),),
        ),
    ),
)
_TIMEOUTS = Block(
    attributes=tuple(
        Attribute(op, STRING, f"How long {op} may take, e.g. `30m` (default none).",
                  optional=True, validators=(duration(Message("Invalid timeout", "{error}")),))
        for op in ("create", "update", "delete")
    )
)  # fmt: skip
_NAME = matches(
    NAME_PATTERN,
    "Invalid cluster name",
    TENANT_NAME_RULE.replace("tenant", "cluster"),
)

TYPE_NAME = "photon_k8s_cluster"
SCHEMA = Schema(
    Block(
        description="A Kubernetes cluster inside a tenant: etcd, master and worker VMs spread "
        "over the tenant's hosts, bootstrapped with kubeadm through cloud-init.",
        attributes=(
            Attribute("id", STRING, "`<tenant>/<name>`.", computed=True,
                      use_state_for_unknown=True),
            Attribute("tenant", STRING, "Id of the tenant (`photon_tenant.x.id`).",
                      required=True, requires_replace=True, validators=(tenant_name_validator,)),
            Attribute("name", STRING, "Name of the cluster, unique in its tenant.",
                      required=True, requires_replace=True, validators=(_NAME,)),
            Attribute("kubernetes_version", STRING, "Kubernetes version, e.g. `1.32.3`; "
                      "the image must carry it. Changing it rolls the masters, then the "
                      "workers, one at a time: one minor version per apply, never down (see "
                      "the upgrades guide).", required=True,
                      validators=(matches(r"v?\d+\.\d+\.\d+", "Invalid Kubernetes version",
                                          "a version looks like 1.32.3"),)),
            Attribute("image", STRING, "Base disk on each host's first datastore, e.g. "
                      "`images/k8s-1.32.vmdk`; each node's disk is a copy of it. Changing it "
                      "replaces the nodes one at a time (see the upgrades guide).",
                      required=True),
            Attribute("worker_image", STRING, "Base disk for the workers, if not `image`. "
                      "Changing it replaces the workers one at a time.", optional=True,
                      computed=True),
            Attribute("network", STRING, "Port group of the nodes' NIC.", optional=True,
                      computed=True, default="VM Network", requires_replace=True),
            Attribute("etcd_count", NUMBER, "Dedicated etcd VMs: 0 (etcd runs on the "
                      "masters), 1 or 3.", optional=True, computed=True, default=0,
                      requires_replace=True, validators=(one_of(0, 1, 3, summary=_COUNT),)),
            Attribute("master_count", NUMBER, "Masters: 1 or 3.", optional=True,
                      computed=True, default=1, requires_replace=True,
                      validators=(one_of(1, 3, summary=_COUNT),)),
            Attribute("worker_count", NUMBER, "Workers, 0 to 1000; changed in place (shrinking "
                      "removes the newest first).", optional=True, computed=True, default=1,
                      validators=(between(0, 1000, whole=True, summary=_COUNT),)),
            Attribute("worker_batch_size", NUMBER, "Workers created at once when growing.",
                      optional=True, computed=True, default=10,
                      validators=(at_least(1, whole=True, summary=_COUNT),)),
            _flavor("etcd"),
            _flavor("master"),
            _flavor("worker"),
            Attribute("ssh_public_keys", List(STRING), "Keys allowed to log in to the nodes.",
                      optional=True),
            Attribute("pod_cidr", STRING, "Pod network, in CIDR notation.", optional=True,
                      computed=True, default="10.244.0.0/16", requires_replace=True,
                      validators=(cidr(),)),
            Attribute("service_cidr", STRING, "Service network, in CIDR notation.",
                      optional=True, computed=True, default="10.96.0.0/12",
                      requires_replace=True, validators=(cidr(),)),
            Attribute("dns_servers", List(STRING), "DNS servers (IPv4 addresses) of the nodes.",
                      optional=True, requires_replace=True, validators=(_ADDRESSES,)),
            Attribute("gateway", STRING, "Default gateway of the nodes' static addresses.",
                      optional=True, requires_replace=True, validators=(_ADDRESS,)),
            Attribute("netmask", STRING, "Netmask of the static addresses, e.g. "
                      "`255.255.255.0` or `24`.", optional=True, requires_replace=True,
                      validators=(netmask(),)),
            Attribute("master_ips", List(STRING), "Static IPv4 addresses of the masters, one "
                      "per master; the first is the API endpoint.", required=True,
                      requires_replace=True, validators=(_ADDRESSES,)),
            Attribute("etcd_ips", List(STRING), "Static IPv4 addresses of the etcd VMs, one "
                      "per member.", optional=True, requires_replace=True,
                      validators=(_ADDRESSES,)),
            Attribute("worker_ips", List(STRING), "IPv4 address pool for workers (worker-N "
                      "gets the N-th); unset: DHCP. May grow in place; addresses in use may "
                      "not change.", optional=True, validators=(_ADDRESSES,)),
            Attribute("api_endpoint", STRING, "URL of the Kubernetes API.", computed=True),
            Attribute("ca_certificate", STRING, "PEM of the cluster CA.", computed=True),
            Attribute("kubeconfig", STRING, "Admin kubeconfig (JSON, which kubectl reads).",
                      computed=True, sensitive=True),
            Attribute("nodes", nested=_NODE, description="The nodes, by name.", computed=True),
        ),
        blocks=(
            NestedBlock("health", _HEALTH, Nesting.SINGLE),
            NestedBlock("readiness", _READINESS, Nesting.SINGLE),
            NestedBlock("rollout", _ROLLOUT, Nesting.SINGLE),
            NestedBlock("timeouts", _TIMEOUTS, Nesting.SINGLE),
        ),
    )
)  # fmt: skip

NODES_TYPE = _NODE.value_type()
