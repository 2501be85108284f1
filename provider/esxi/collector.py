"""Named properties of given objects, in one PropertyCollector call: how the adapter reads a
few objects it already holds (tasks, new VMs, the license manager) without a call each."""

from __future__ import annotations

from collections.abc import Sequence

from pyVmomi import vmodl

from .session import HostSession

__all__ = ["properties_of", "retrieve_all", "updates_since"]

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


def updates_since(
    collector: vmodl.query.PropertyCollector, version: str, max_wait: int
) -> tuple[str, list[vmodl.query.PropertyCollector.ObjectUpdate]]:
    """The object updates of a kept filter since ``version`` (all of them: a truncated answer
    is followed at once by the next call, as the API asks) and the version to ask from next;
    none when nothing changed within ``max_wait`` seconds (0: answer at once)."""
    found: list[vmodl.query.PropertyCollector.ObjectUpdate] = []
    while True:
        result = collector.WaitForUpdatesEx(version, _PC.WaitOptions(maxWaitSeconds=max_wait))
        if result is None:
            return version, found
        version = result.version
        for filter_update in result.filterSet or ():
            found.extend(filter_update.objectSet or ())
        if not result.truncated:
            return version, found


def retrieve_all(
    collector: vmodl.query.PropertyCollector, spec: vmodl.query.PropertyCollector.FilterSpec
) -> dict[str, tuple[type, dict[str, object]]]:
    """moid -> (type, {property path: value}) of everything ``spec`` selects, in one
    ``RetrievePropertiesEx`` (continued while the host pages the answer)."""
    objects: dict[str, tuple[type, dict[str, object]]] = {}
    result = collector.RetrievePropertiesEx([spec], _PC.RetrieveOptions())
    while result is not None:
        for item in result.objects:
            objects[item.obj._moId] = (type(item.obj), {p.name: p.val for p in item.propSet})
        if not result.token:
            break
        result = collector.ContinueRetrievePropertiesEx(result.token)
    return objects
