"""One owner per cluster: the platform record's generation, and the state that knows it.

Two working directories (two states) that manage one cluster would undo each other: one
removes the other's workers, each write of the record overwrites the other's. So every write
of a cluster's record advances its ``generation``, and the state that made it remembers that
generation in its private data. A write is made only over the generation the state knows
(under the platform lock: no lost update), and a plan that would change a cluster whose record
is ahead of its state refuses: another configuration changed it. ``terraform import`` makes a
state the owner (it learns the record's generation), and says so when another state had it.

A state from before generations (none in its private data) takes whatever the record has at
its next write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...bridge.cty import Path
from ...bridge.diagnostics import DiagnosticError
from ..platform import Platform
from ..records import CLUSTERS
from .model import ClusterModel
from .values import load_private

if TYPE_CHECKING:
    from .kubernetes.pki import ClusterPki

__all__ = [
    "GENERATION",
    "RecordWriter",
    "check_owner",
    "known_generation",
    "record_generation",
    "with_generation",
]

GENERATION = "generation"


def known_generation(private: bytes) -> int | None:
    """The record generation this state knows (None: a state from before generations)."""
    value = load_private(private).get(GENERATION)
    return value if isinstance(value, int) else None


def with_generation(private: bytes, generation: int | None) -> bytes:
    data = load_private(private)
    if generation is None:
        return private
    data[GENERATION] = generation
    return json.dumps(data).encode()


def record_generation(record: Mapping[str, Any] | None) -> int:
    value = (record or {}).get(GENERATION)
    return value if isinstance(value, int) else 0


def changed_elsewhere(model: ClusterModel, known: int, current: int) -> DiagnosticError:
    return DiagnosticError(
        f"Cluster {model.tenant}/{model.name} was changed by another configuration",
        f"The platform record is at generation {current}, but this state knows generation "
        f"{known}: another Terraform state manages this cluster too, and acting on an old "
        "view would undo its changes. Manage each cluster from one configuration. To take "
        "it over here, remove it from this state and import it again (`terraform state rm` "
        "then `terraform import`).",
        Path.root().attr("nodes"),
    )


def check_owner(platform: Platform, model: ClusterModel, private: bytes) -> None:
    """At plan, before any change: the record must not be ahead of this state."""
    known = known_generation(private)
    if known is None:
        return
    current = record_generation(platform.records().get(CLUSTERS, model.record_key))
    if current > known:
        raise changed_elsewhere(model, known, current)


class RecordWriter:
    """Writes one apply's record of a cluster over the generation its state knows; after
    each write, ``generation`` is the one the state must remember."""

    def __init__(self, platform: Platform, private: bytes, *, creating: bool = False) -> None:
        self.platform = platform
        # A new cluster expects no record: one there belongs to a cluster of that name
        # another state made.
        self.generation = 0 if creating else known_generation(private)

    def write(
        self, model: ClusterModel, pki: ClusterPki, nodes: Mapping[str, dict[str, Any]]
    ) -> None:
        """The cluster as the platform knows it: spec, nodes and secrets, so that an import
        can rebuild the state and restore every role (see docs/guides/records.md). Called
        under the platform lock."""
        current = self.check(model)
        record_nodes = {
            n: {k: v.get(k) for k in ("role", "host", "vm_id", "ip", "mac")}
            for n, v in nodes.items()
        }
        record = {"tenant": model.tenant, "cluster": model.name, "spec": model.record_spec(),
                  "nodes": record_nodes, "pki": pki.to_json(), GENERATION: current + 1}  # fmt: skip
        self.platform.records().put(CLUSTERS, model.record_key, record)
        self.generation = current + 1

    def check(self, model: ClusterModel) -> int:
        """The record's generation now, which must be the one this state knows: called under
        the platform lock before a host is changed, and before each write."""
        current = record_generation(self.platform.records().get(CLUSTERS, model.record_key))
        if self.generation is not None and current != self.generation:
            raise changed_elsewhere(model, self.generation, current)
        return current
