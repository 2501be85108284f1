"""Named properties of given objects, in one PropertyCollector call: how the adapter reads a
few objects it already holds (tasks, new VMs, the license manager) without a call each."""

from __future__ import annotations

from collections.abc import Sequence

from pyVmomi import vmodl

from .session import HostSession

__all__ = ["properties_of"]

_PC = vmodl.query.PropertyCollector


def properties_of(
    session: HostSession, objects: Sequence[object], kind: type, paths: Sequence[str]
) -> dict[str, dict[str, object]]:
    """moid -> {property path: value} for each of ``objects`` (all of type ``kind``). Raises
    pyVmomi's faults: callers translate them (some expect an object to be gone)."""
    spec = _PC.FilterSpec(
        objectSet=[_PC.ObjectSpec(obj=o) for o in objects],
        propSet=[_PC.PropertySpec(type=kind, pathSet=list(paths))],
    )
    found = session.content.propertyCollector.RetrieveContents([spec])
    return {item.obj._moId: {p.name: p.val for p in item.propSet} for item in found}
