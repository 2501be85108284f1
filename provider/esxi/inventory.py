"""One read of a host's inventory: a container view and one PropertyCollector retrieve.

Everything the domain needs to decide (which pools exist, which VMs they hold) comes from
one snapshot per host per RPC, indexed by managed object id; never from per-object calls.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from pyVmomi import vim, vmodl

from .errors import EsxiError
from .faults import translated
from .session import HostSession

__all__ = ["Inventory", "PoolInfo", "read_inventory", "retrieve"]

_POOL_PROPERTIES = ("name", "parent", "vm")


@dataclass(frozen=True)
class PoolInfo:
    moid: str
    name: str
    parent: str | None
    vms: tuple[str, ...]


@dataclass(frozen=True)
class Inventory:
    host: str
    pools: Mapping[str, PoolInfo]
    root_pool: str

    def children(self, parent: str | None = None) -> Iterator[PoolInfo]:
        """Pools directly under ``parent`` (default: the host's root pool)."""
        parent = parent or self.root_pool
        return (p for p in self.pools.values() if p.parent == parent)

    def child_named(self, name: str, parent: str | None = None) -> PoolInfo | None:
        return next((p for p in self.children(parent) if p.name == name), None)


def retrieve(
    session: HostSession, properties: Mapping[type, Sequence[str]]
) -> dict[str, tuple[type, dict[str, object]]]:
    """Properties of every object of the given types below the root folder, by moid."""
    content = session.content
    view = content.viewManager.CreateContainerView(
        content.rootFolder, list(properties), recursive=True
    )
    try:
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[
                vmodl.query.PropertyCollector.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[
                        vmodl.query.PropertyCollector.TraversalSpec(
                            name="view", path="view", skip=False, type=vim.view.ContainerView
                        )
                    ],
                )
            ],
            propSet=[
                vmodl.query.PropertyCollector.PropertySpec(type=t, pathSet=list(paths))
                for t, paths in properties.items()
            ],
        )
        collector = content.propertyCollector
        result = collector.RetrievePropertiesEx(
            [spec], vmodl.query.PropertyCollector.RetrieveOptions()
        )
        objects: dict[str, tuple[type, dict[str, object]]] = {}
        while result is not None:
            for item in result.objects:
                objects[item.obj._moId] = (type(item.obj), {p.name: p.val for p in item.propSet})
            if not result.token:
                break
            result = collector.ContinueRetrievePropertiesEx(result.token)
        return objects
    finally:
        view.DestroyView()


def read_inventory(session: HostSession) -> Inventory:
    with translated(session.name):
        objects = retrieve(session, {vim.ResourcePool: _POOL_PROPERTIES})
    pools: dict[str, PoolInfo] = {}
    root = None
    for moid, (_, props) in objects.items():
        parent = props.get("parent")
        if isinstance(parent, vim.ResourcePool):
            parent_id = parent._moId
        else:  # the root pool's parent is the host's compute resource
            parent_id, root = None, moid
        vms = props.get("vm") or []
        pools[moid] = PoolInfo(
            moid, str(props.get("name", "")), parent_id, tuple(v._moId for v in vms)
        )
    if root is None:
        raise EsxiError(session.name, "the host has no root resource pool; is it an ESXi host?")
    return Inventory(session.name, pools, root)
