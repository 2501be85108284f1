"""What an upgrade (a roll: nodes replaced one at a time by VMs of a new build) may do, judged
at plan. Pure.

kubeadm's rules: the control plane moves one minor version at a time and never down, and no
node may run a newer Kubernetes than the version asked for. The control plane's quorum: a
node is rolled by destroying its VM and making a new one that rejoins, so a lone member of
etcd (a lone master with stacked etcd, or a lone external etcd VM) cannot roll without losing
every object of the cluster. And a roll starts only on a healthy cluster: what is unhealthy
must be put right in the same plan (restorations go first), or the roll waits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence

from ...bridge.cty import Path
from ...bridge.diagnostics import Diagnostic, Severity
from .health import HEALTHY
from .model import NodeState

__all__ = ["parse_version", "roll_refusals", "version_refusal"]

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_PATH = Path.root().attr("kubernetes_version")


def parse_version(text: str) -> tuple[int, int, int] | None:
    found = _VERSION.fullmatch(text.strip())
    return None if found is None else (int(found[1]), int(found[2]), int(found[3]))


def version_refusal(
    masters: Mapping[str, str], workers: Mapping[str, str], wanted: str
) -> str | None:
    """Why nodes running these versions (node -> version) cannot move to ``wanted``, or
    None: none may go down; the masters move at most one minor version."""
    target = parse_version(wanted)
    if target is None:
        return None  # the attribute's own validator says what a version looks like
    newest = _extreme({**masters, **workers}, max)
    if newest is not None and parse_version(newest[1]) > target:  # type: ignore[operator]
        return (
            f"Kubernetes {wanted} is older than {newest[1]}, which {newest[0]} runs: "
            f"kubeadm never moves a cluster down. Set kubernetes_version back to {newest[1]} "
            "or newer."
        )
    oldest = _extreme(masters, min)
    if oldest is None:
        return None
    major, minor, _ = parse_version(oldest[1])  # type: ignore[misc]
    if (target[0], target[1]) not in ((major, minor), (major, minor + 1)):
        return (
            f"Kubernetes {wanted} is more than one minor version ahead of {oldest[1]}, which "
            f"{oldest[0]} runs: kubeadm moves the control plane one minor version at a time. "
            f"Upgrade to {major}.{minor + 1} first (any patch release, e.g. "
            f"{major}.{minor + 1}.0), apply, then ask for {wanted}."
        )
    return None


def _extreme(
    versions: Mapping[str, str], pick: Callable[..., tuple[str, str]]
) -> tuple[str, str] | None:
    """(node, version) of the newest or oldest parseable version, by name on a tie."""
    known = sorted((n, v) for n, v in versions.items() if parse_version(v) is not None)
    if not known:
        return None
    name = pick(known, key=lambda item: parse_version(item[1]))[0]
    return name, versions[name]


def roll_refusals(
    nodes: Mapping[str, NodeState],
    versions: Mapping[str, str | None],
    roll: Sequence[str],
    counts: Mapping[str, int],
    wanted_version: str | None,
    put_right: Collection[str],
) -> list[Diagnostic]:
    """The errors that stop a plan rolling ``roll``: the version rules (``versions``: the
    Kubernetes version each node runs), a lone etcd member, and unhealthy nodes that this plan
    does not put right (``put_right``)."""
    if not roll:
        return []
    errors = []
    masters, workers = (
        {n: v for n, v in versions.items() if v and nodes[n].role == role}
        for role in ("master", "worker")
    )
    refusal = version_refusal(masters, workers, wanted_version or "")
    if refusal:
        errors.append(_error("Kubernetes version cannot change so", refusal))
    errors += _lone_members(nodes, roll, counts)
    # A worker that rolls anyway is replaced as a restore would; the control plane must hold.
    fixed = set(put_right) | {n for n in roll if nodes[n].role == "worker"}
    unwell = sorted(
        f"{n} ({v.status})"
        for n, v in nodes.items()
        if v.status not in HEALTHY and n not in fixed and "@" not in n
    )
    if unwell:
        errors.append(
            _error(
                "The cluster is not healthy enough to roll",
                f"{', '.join(unwell)}: a roll replaces one node at a time and starts only when "
                "every node is healthy. Restorations planned in the same run go first; these "
                "nodes are not put right by this plan (see the warnings above). Wait for the "
                "health policy to restore them, or put them right, then apply again.",
            )
        )
    return errors


def _lone_members(
    nodes: Mapping[str, NodeState], roll: Sequence[str], counts: Mapping[str, int]
) -> list[Diagnostic]:
    errors = []
    for name in roll:
        role = nodes[name].role
        if role == "master" and counts["etcd"] == 0 and counts["master"] == 1:
            why = "holds etcd's only member (etcd_count = 0, master_count = 1)"
        elif role == "etcd" and counts["etcd"] == 1:
            why = "is etcd's only member (etcd_count = 1)"
        else:
            continue
        errors.append(
            _error(
                f"{name} cannot be rolled without losing the cluster",
                f"{name} {why}: rolling replaces its VM, and with it every object of the "
                "cluster. Only a control plane of three members (master_count = 3, or "
                "etcd_count = 3) rolls without loss, one member at a time; a lone master "
                "with external etcd rolls too. Keep this cluster's version and image, or "
                "make a new cluster with three members and move the workloads.",
            )
        )
    return errors


def _error(summary: str, detail: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, _PATH)
