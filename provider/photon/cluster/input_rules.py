"""Rules over a cluster's inputs that no single attribute's validator can see: what would
pass plan and build a cluster that can never come up. Pure; table-tested.

As kubeadm's own validation does before touching a node: every node address distinct, the
gateway and DNS servers none of them; the nodes' network (their addresses with the netmask),
the pod network and the service network pairwise disjoint; the gateway inside the nodes'
network. And what cloud-init would silently ignore or the hosts refuse: SSH keys that are not
OpenSSH public keys, images that are not a ``.vmdk`` path inside the datastore.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...bridge.cty import Path
from ...bridge.notation import prefix_length

__all__ = ["Problem", "input_problems"]

Network = ipaddress.IPv4Network


@dataclass(frozen=True)
class Problem:
    summary: str
    detail: str
    path: Path


def input_problems(values: Mapping[str, Any]) -> list[Problem]:
    """Every rule broken by ``values`` (attribute -> value; None where not set or not known
    yet: such a rule is left for when it is)."""
    return [
        *_distinct_addresses(values),
        *_networks(values),
        *_ssh_keys(values.get("ssh_public_keys")),
        *_images(values),
    ]


def _addresses(values: Mapping[str, Any]) -> Iterator[tuple[str, int, ipaddress.IPv4Address]]:
    """(attribute, index, address) of every parseable node address."""
    for attribute in ("etcd_ips", "master_ips", "worker_ips"):
        for i, text in enumerate(values.get(attribute) or ()):
            address = _ip(text)
            if address is not None:
                yield attribute, i, address


def _distinct_addresses(values: Mapping[str, Any]) -> Iterator[Problem]:
    first: dict[ipaddress.IPv4Address, str] = {}
    for attribute, i, address in _addresses(values):
        where = f"{attribute}[{i}]"
        if address in first:
            yield Problem(
                "Duplicate node address",
                f"{address} is given to {first[address]} and {where}: each node needs an "
                "address of its own, or the two answer for each other and neither joins.",
                Path.root().attr(attribute).index(i),
            )
        else:
            first[address] = where
    for attribute in ("gateway", "dns_servers"):
        given = values.get(attribute)
        for i, text in enumerate([given] if isinstance(given, str) else given or ()):
            address = _ip(text)
            if address in first:
                path = Path.root().attr(attribute)
                yield Problem(
                    f"A node address is the {attribute.rstrip('s').replace('_', ' ')}",
                    f"{address} is {first[address]}, a node's own address: a node cannot be "
                    f"its cluster's {'gateway' if attribute == 'gateway' else 'DNS server'}.",
                    path if attribute == "gateway" else path.index(i),
                )


def _networks(values: Mapping[str, Any]) -> Iterator[Problem]:
    nodes = _nodes_network(values)
    named = {
        "pod_cidr": _net(values.get("pod_cidr")),
        "service_cidr": _net(values.get("service_cidr")),
    }
    if nodes is not None:
        for attribute, network in named.items():
            if network is not None and network.overlaps(nodes):
                yield Problem(
                    "Networks overlap",
                    f"{attribute} {network} overlaps the nodes' network {nodes} (their "
                    "addresses with the netmask): pods or services would shadow nodes. Choose "
                    "a range outside it.",
                    Path.root().attr(attribute),
                )
        gateway = _ip(values.get("gateway"))
        if gateway is not None and gateway not in nodes:
            yield Problem(
                "Gateway outside the nodes' network",
                f"gateway {gateway} is not in the nodes' network {nodes}: the nodes could not "
                "reach it. Give a gateway on their network, or check netmask.",
                Path.root().attr("gateway"),
            )
    pods, services = named["pod_cidr"], named["service_cidr"]
    if pods is not None and services is not None and pods.overlaps(services):
        yield Problem(
            "Networks overlap",
            f"service_cidr {services} overlaps pod_cidr {pods}: kubeadm refuses it. Choose "
            "disjoint ranges.",
            Path.root().attr("service_cidr"),
        )


def _nodes_network(values: Mapping[str, Any]) -> Network | None:
    masters, netmask = values.get("master_ips") or (), values.get("netmask")
    first = _ip(masters[0]) if masters else None
    if first is None or not netmask:
        return None
    try:
        return ipaddress.ip_network(f"{first}/{prefix_length(netmask)}", strict=False)  # type: ignore[return-value]
    except ValueError:
        return None  # the netmask's own validator says so


def _ssh_keys(keys: Sequence[str] | None) -> Iterator[Problem]:
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    for i, text in enumerate(keys or ()):
        try:
            load_ssh_public_key(text.strip().encode())
        except (ValueError, TypeError):  # also unsupported key types
            kind = text.split(maxsplit=1)[0] if text.strip() else "an empty string"
            yield Problem(
                "Invalid SSH public key",
                f"Key {i + 1} ({kind[:20]}...) is not an OpenSSH public key (`ssh-ed25519 "
                "AAAA...`, as in a .pub file): the nodes would ignore it and nobody could log in "
                "with it.",
                Path.root().attr("ssh_public_keys").index(i),
            )


def _images(values: Mapping[str, Any]) -> Iterator[Problem]:
    for attribute in ("image", "worker_image"):
        path = values.get(attribute)
        if not isinstance(path, str):
            continue
        parts = path.split("/")
        if path.startswith(("/", "[")) or ".." in parts or not path.endswith(".vmdk"):
            yield Problem(
                "Invalid image path",
                f"{attribute} {path!r} must be a path to a .vmdk inside the datastore, as "
                "`images/k8s-1.32.vmdk`: no leading / or [datastore], no `..`.",
                Path.root().attr(attribute),
            )


def _ip(text: object) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(str(text).strip()) if isinstance(text, str) else None
    except ValueError:
        return None


def _net(text: object) -> Network | None:
    try:
        return ipaddress.IPv4Network(text.strip(), strict=False) if isinstance(text, str) else None
    except ValueError:
        return None
