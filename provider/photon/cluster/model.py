"""A cluster as plain Python, decoded once from a planned or prior ``Value`` and passed down.

``ClusterModel.decode`` reads every attribute the cluster's code needs exactly once; the
rest of the package asks the model (``desired``, ``spec``, ``image_for``, ``rolls``) instead
of converting the raw value again. At plan time some attributes may not be known yet (an
address from another resource, say): they decode to their empty form and are named in
``unknown``, so plan can tell "not set" from "not known yet". The nodes are decoded only
from a fully known ``nodes`` map (the prior state; a plan for a new cluster has none).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from ...bridge.cty import Value
from ...bridge.notation import parse_duration, prefix_length
from .health import READY, HealthPolicy
from .kubernetes.spec import ClusterSpec, Node
from .nodes import ROLES, Flavor, desired_nodes

__all__ = ["RECORD_SPEC", "Build", "ClusterModel", "NodeState", "Readiness", "Rollout"]

# The attributes the platform record keeps as the cluster's spec (see docs/guides/records.md).
RECORD_SPEC = (
    "kubernetes_version", "image", "worker_image", "network", "etcd_count", "master_count",
    "worker_count", "etcd_flavor", "master_flavor", "worker_flavor", "pod_cidr",
    "service_cidr", "master_ips", "etcd_ips", "worker_ips", "gateway", "netmask",
    "dns_servers", "ssh_public_keys",
)  # fmt: skip
# What the node map needs known before plan can say which nodes there will be.
NODE_INPUTS = ("etcd_ips", "master_ips", "worker_count", "worker_ips")


@dataclass(frozen=True)
class NodeState:
    """One node as the state holds it: its VM (``vm_id`` on ``host``) and refreshed status."""

    role: str
    host: str
    vm_id: str
    ip: str | None
    mac: str | None
    status: str = READY
    # What its VM was made for (its marks); None in a state from before they were kept.
    kubernetes_version: str | None = None
    image: str | None = None
    flavor: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def build(self) -> Build:
        return Build(self.kubernetes_version, self.image, self.flavor)


@dataclass(frozen=True)
class Build:
    """What a node's VM is made for: a node whose build differs from its role's wanted one
    is rolled (replaced by a new VM)."""

    kubernetes_version: str | None
    image: str | None
    flavor: str | None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class ClusterModel:
    tenant: str
    name: str
    attributes: Mapping[str, Any]  # every decoded attribute by name, for the record
    network: str
    image: str
    worker_image: str
    master_ips: tuple[str, ...]
    etcd_ips: tuple[str, ...]
    worker_ips: tuple[str, ...]  # empty: DHCP
    flavors: Mapping[str, Flavor]
    worker_count: int
    worker_batch_size: int
    health: HealthPolicy
    readiness: Readiness
    rollout: Rollout
    timeouts: Mapping[str, str]
    nodes: Mapping[str, NodeState] | None  # None: not known (a plan before create)
    unknown: frozenset[str] = frozenset()  # attributes not known yet (plan time only)

    @classmethod
    def decode(cls, value: Value) -> ClusterModel:
        known = {n: v.to_python() for n, v in _attributes(value) if v.is_fully_known()}
        unknown = frozenset(n for n, _ in _attributes(value)) - set(known)
        nodes = None
        if "nodes" in known and known["nodes"] is not None:
            nodes = {n: NodeState(**v) for n, v in known["nodes"].items()}
        return cls(
            tenant=known.get("tenant") or "",
            name=known.get("name") or "",
            attributes=known,
            network=known.get("network") or "",
            image=known.get("image") or "",
            worker_image=known.get("worker_image") or "",
            master_ips=tuple(known.get("master_ips") or ()),
            etcd_ips=tuple(known.get("etcd_ips") or ()),
            worker_ips=tuple(known.get("worker_ips") or ()),
            flavors={r: _flavor(known.get(f"{r}_flavor")) for r in ROLES},
            worker_count=int(known.get("worker_count") or 0),
            worker_batch_size=int(known.get("worker_batch_size") or 1),
            health=_health_policy(known.get("health")),
            readiness=_readiness(known.get("readiness")),
            rollout=_rollout(known.get("rollout")),
            timeouts=known.get("timeouts") or {},
            nodes=nodes,
            unknown=unknown,
        )

    def __getitem__(self, name: str) -> Any:
        """Any other attribute as decoded (None when null or not known)."""
        return self.attributes.get(name)

    @property
    def nodes_plannable(self) -> bool:
        return not self.unknown & set(NODE_INPUTS)

    @cached_property  # asked for per node while VMs are made: worked out once
    def desired(self) -> list[Node]:
        return desired_nodes(self.etcd_ips, self.master_ips, self.worker_count, self.worker_ips)

    @cached_property
    def spec(self) -> ClusterSpec:
        nodes, netmask = self.desired, self["netmask"]
        return ClusterSpec(
            tenant=self.tenant,
            name=self.name,
            kubernetes_version=self["kubernetes_version"],
            pod_cidr=self["pod_cidr"],
            service_cidr=self["service_cidr"],
            api_address=(self.master_ips or ("",))[0],
            etcd=[n for n in nodes if n.role == "etcd"],
            masters=[n for n in nodes if n.role == "master"],
            gateway=self["gateway"],
            prefix_length=prefix_length(netmask) if netmask else None,
            dns_servers=self["dns_servers"] or [],
            ssh_public_keys=self["ssh_public_keys"] or [],
        )

    @property
    def record_key(self) -> str:
        """The name of the cluster's platform record."""
        return f"{self.tenant}.{self.name}"

    def image_for(self, role: str) -> str:
        return self.worker_image if role == "worker" else self.image

    def build_for(self, role: str) -> Build:
        """The build a node of ``role`` is made with now (parts not known yet: None)."""
        flavor = None if f"{role}_flavor" in self.unknown else self.flavors[role].label
        image = (
            None
            if ("worker_image" if role == "worker" else "image") in self.unknown
            else (self.image_for(role))
        )
        return Build(self["kubernetes_version"], image, flavor)

    def built(self, name: str) -> Build:
        """Node ``name``'s build, its missing parts (a state from before they were kept)
        taken from this (prior) configuration, which made every node then."""
        assert self.nodes is not None
        node, made = self.nodes[name], self.build_for(self.nodes[name].role)
        return Build(
            node.kubernetes_version or made.kubernetes_version,
            node.image or made.image,
            node.flavor or made.flavor,
        )

    def rolls(self, prior: ClusterModel, name: str) -> bool:
        """Whether node ``name`` of the prior state is replaced by a new VM for a new build:
        a new image or flavor of its role, or (but for etcd VMs, whose etcd comes with the
        image) a new Kubernetes version. A part not known yet rolls it: apply decides again."""
        assert prior.nodes is not None
        node = prior.nodes[name]
        was, now = prior.built(name), self.build_for(node.role)
        keys = (
            ("image", "flavor")
            if node.role == "etcd"
            else ("image", "flavor", "kubernetes_version")
        )
        return any(getattr(now, k) is None or getattr(was, k) != getattr(now, k) for k in keys)

    def record_spec(self) -> dict[str, Any]:
        return {k: self[k] for k in RECORD_SPEC}


def _attributes(value: Value) -> list[tuple[str, Value]]:
    return list(value.payload.items())  # type: ignore[union-attr]


def _flavor(block: Mapping[str, Any] | None) -> Flavor:
    if not block:  # not known yet: plan leaves what needs it to apply
        return Flavor(0, 0.0, 0)
    return Flavor(int(block["vcpu"]), float(block["memory_gb"]), int(block["disk_gb"]))


def _health_policy(block: Mapping[str, Any] | None) -> HealthPolicy:
    """The ``health`` block with its defaults."""
    block = block or {}
    defaults = HealthPolicy()
    grace = block.get("grace_period")
    startup = block.get("startup_timeout")
    return HealthPolicy(
        enabled=defaults.enabled if block.get("enabled") is None else block["enabled"],
        grace_period=(
            defaults.grace_period
            if grace is None
            else datetime.timedelta(seconds=parse_duration(grace))
        ),
        max_unhealthy=block.get("max_unhealthy") or defaults.max_unhealthy,
        power_on=bool(block.get("power_on")),
        rebuild_lone_control_plane=bool(block.get("rebuild_lone_control_plane")),
        grace_text=defaults.grace_text if grace is None else grace.strip(),
        startup_timeout=(
            defaults.startup_timeout
            if startup is None
            else datetime.timedelta(seconds=parse_duration(startup))
        ),
        startup_text=defaults.startup_text if startup is None else startup.strip(),
    )


@dataclass(frozen=True)
class Readiness:
    """The ``readiness`` block: whether apply waits for the nodes it made to report ready."""

    wait: bool = True
    timeout: datetime.timedelta = datetime.timedelta(minutes=15)
    timeout_text: str = "15m"


@dataclass(frozen=True)
class Rollout:
    """The ``rollout`` block: how long a node may drain before its VM is replaced (0: no
    drain)."""

    drain_timeout: float = 600.0
    drain_text: str = "10m"


def _rollout(block: Mapping[str, Any] | None) -> Rollout:
    text = (block or {}).get("drain_timeout")
    return Rollout() if text is None else Rollout(parse_duration(text), text.strip())


def _readiness(block: Mapping[str, Any] | None) -> Readiness:
    block = block or {}
    defaults = Readiness()
    timeout = block.get("timeout")
    return Readiness(
        wait=defaults.wait if block.get("wait") is None else bool(block["wait"]),
        timeout=(
            defaults.timeout
            if timeout is None
            else datetime.timedelta(seconds=parse_duration(timeout))
        ),
        timeout_text=defaults.timeout_text if timeout is None else timeout.strip(),
    )
