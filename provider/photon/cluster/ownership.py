"""One owner per cluster: the platform record's generation, and the state that knows it.

Two working directories (two states) that manage one cluster would undo each other: one
removes the other's workers, each write of the record overwrites the other's. So every write
of a cluster's record advances its ``generation``, and the state that made it remembers that
generation in its private data. A write is made only over the generation the state knows
(under the platform lock: no lost update), and a plan that would change a cluster whose record
is at another generation than its state's refuses: another configuration changed it.
``terraform import`` makes a state the owner (it learns the record's generation), and says so
when another state had it.

A record can also be ahead because this very state's last run was killed after writing it
(before Terraform saved the state). So each state also keeps an ``owner`` token, written into
every record it writes: a record ahead of the state but written by the same owner is its own,
and is taken as it is.

A state from before generations (none in its private data) takes whatever the record has at
its next write.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ...bridge.cty import Path
from ...bridge.diagnostics import DiagnosticError
from ..platform import Platform
from ..records import CLUSTERS
from .leftovers import INTENT, intent_of, is_stray
from .model import ClusterModel
from .values import load_private

if TYPE_CHECKING:
    from .kubernetes.pki import ClusterPki

__all__ = [
    "CREATING",
    "GENERATION",
    "RecordWriter",
    "check_owner",
    "known_generation",
    "new_owner",
    "record_generation",
    "with_ownership",
]

GENERATION = "generation"
OWNER = "owner"
CREATING = "creating"  # set in the record by a create until its nodes are all made


def known_generation(private: bytes) -> int | None:
    """The record generation this state knows (None: a state from before generations)."""
    value = load_private(private).get(GENERATION)
    return value if isinstance(value, int) else None


def known_owner(private: bytes) -> str | None:
    value = load_private(private).get(OWNER)
    return value if isinstance(value, str) else None


def with_ownership(private: bytes, generation: int | None, owner: str) -> bytes:
    """The private state remembering the record's generation and this state's owner token."""
    data = load_private(private)
    if generation is None:
        return private
    data.update({GENERATION: generation, OWNER: owner})
    return json.dumps(data).encode()


def new_owner() -> str:
    return uuid.uuid4().hex


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
    """At plan, before any change: the record must be at the generation this state knows
    (ahead: another configuration changed it; behind: it was put back from a copy), unless
    this state's own interrupted run wrote it. Apply checks the same (``RecordWriter``)."""
    known = known_generation(private)
    if known is not None:
        record = platform.records().get(CLUSTERS, model.record_key)
        _confirm(model, record, known, known_owner(private))


def _confirm(
    model: ClusterModel, record: Mapping[str, Any] | None, known: int | None, owner: str | None
) -> int:
    """The record's generation, refused unless it is ``known`` (None: any) or the record was
    written by the state whose token is ``owner``."""
    current = record_generation(record)
    ours = owner is not None and (record or {}).get(OWNER) == owner
    if known not in (None, current) and not ours:
        raise changed_elsewhere(model, known, current)  # type: ignore[arg-type]
    return current


class RecordWriter:
    """Writes one apply's record of a cluster over the generation its state knows; after
    each write, ``generation`` is the one the state must remember."""

    def __init__(self, platform: Platform, private: bytes, *, creating: bool = False) -> None:
        self.platform = platform
        # A new cluster expects no record: one there belongs to a cluster of that name
        # another state made (or to an interrupted create, which create takes over).
        self.generation = 0 if creating else known_generation(private)
        self.owner = (None if creating else known_owner(private)) or new_owner()
        self.creating = creating
        self.intent: dict[str, Any] = {}  # the record's intent when last checked

    def remembered(self, private: bytes) -> bytes:
        """``private`` with what the state must remember of the record after this apply."""
        return with_ownership(private, self.generation, self.owner)

    def write(
        self,
        model: ClusterModel,
        pki: ClusterPki,
        nodes: Mapping[str, dict[str, Any]],
        intent: Mapping[str, Any] | None = None,
    ) -> None:
        """The cluster as the platform knows it: spec, nodes and secrets, so that an import
        can rebuild the state and restore every role (see docs/guides/records.md); with
        ``intent``, also the VMs about to be made (leftovers.py). Called under the platform
        lock."""
        current = self.check(model)
        record_nodes = {
            n: {k: v.get(k) for k in ("role", "host", "vm_id", "ip", "mac")}
            for n, v in nodes.items()
            if not is_stray(n)
        }
        record = {"tenant": model.tenant, "cluster": model.name, "spec": model.record_spec(),
                  "nodes": record_nodes, "pki": pki.to_json(), GENERATION: current + 1,
                  OWNER: self.owner}  # fmt: skip
        if intent:
            record[INTENT] = dict(intent)
            if self.creating:
                record[CREATING] = True
        self.platform.records().put(CLUSTERS, model.record_key, record)
        self.generation, self.intent = current + 1, dict(intent or {})

    def intend(
        self, model: ClusterModel, pki: ClusterPki, nodes: Mapping[str, dict[str, Any]]
    ) -> Callable[[Mapping[str, Any]], None]:
        """What ``ClusterHosts.create_nodes`` calls before it makes VMs: the record is
        written with them as its intent."""
        return lambda intent: self.write(model, pki, nodes, intent)

    def check(self, model: ClusterModel) -> int:
        """The record's generation now, which must be the one this state knows (or one its
        own interrupted run wrote): called under the platform lock before a host is
        changed, and before each write. Remembers the record's intent."""
        record = self.platform.records().get(CLUSTERS, model.record_key)
        current = _confirm(model, record, self.generation, self.owner)
        self.intent = intent_of(record)
        return current
