"""One host's inventory, kept current for the life of a provider process.

A Terraform phase serves all its resources from one process, and each resource reads every
host: re-reading the whole inventory per resource costs three round trips per host each time.
Instead, the first read takes the whole inventory through a PropertyCollector filter (its own
collector, as ``watch.py`` has; ``_filter_spec`` says why it needs no container view), and
every later read asks that filter for what changed since (``WaitForUpdatesEx`` with
``maxWaitSeconds=0``: one small call) and applies it to the kept properties.

Freshness: a change is in the collector's update stream once the call or task that made it
has completed, so a read that starts after a write (this provider's or anyone's) sees it. A
reader only ever uses the answer of a call that started after it arrived; readers arriving
while a call is in flight share the next one (single flight), so concurrent reads of one host
cost one call, never a stale snapshot.

The collector and its filter belong to the session: logging out (or the host restarting) takes them
with it, so there is nothing to destroy; after a failure the caller builds a new one.
"""

from __future__ import annotations

import threading

from pyVmomi import vim, vmodl

from .collector import updates_since
from .faults import translated
from .inventory import INVENTORY_PROPERTIES, Inventory, inventory_of
from .session import HostSession

__all__ = ["LiveInventory"]

_PC = vmodl.query.PropertyCollector


class LiveInventory:
    """``current()`` is the host's inventory as of a moment after the call began."""

    def __init__(self, session: HostSession) -> None:
        self.session = session
        self._objects: dict[str, tuple[type, dict[str, object]]] = {}
        self._version = ""  # the first call answers with everything
        self._snapshot: Inventory | None = None
        self._turn = threading.Condition()
        self._started = 0  # update calls begun
        self._finished = 0  # update calls ended; the last one's outcome is in _outcome
        self._busy = False
        self._outcome: Inventory | BaseException | None = None
        content = session.content
        with translated(session.name):
            self._collector = content.propertyCollector.CreatePropertyCollector()
            self._collector.CreateFilter(_filter_spec(content.rootFolder), partialUpdates=False)

    def current(self) -> Inventory:
        """The inventory, brought up to date by a call that began after this one was made."""
        with self._turn:
            needed = self._started + 1
            while self._finished < needed:
                if self._busy:
                    self._turn.wait()
                    continue
                self._busy, self._started = True, self._started + 1
                self._turn.release()
                try:
                    outcome: Inventory | BaseException = self._update()
                except BaseException as exc:  # handed to every reader of this call
                    outcome = exc
                finally:
                    self._turn.acquire()
                self._busy, self._finished, self._outcome = False, self._started, outcome
                self._turn.notify_all()
            if isinstance(self._outcome, BaseException):
                raise self._outcome
            assert self._outcome is not None
            return self._outcome

    def latest(self) -> Inventory | None:
        """The inventory as last brought up to date, without a call: only for what cannot
        change while the session lives (the root pool's moid); None before the first read."""
        return self._snapshot

    def _update(self) -> Inventory:
        with translated(self.session.name):
            self._version, found = updates_since(self._collector, self._version, 0)
        for update in found:
            self._apply(update)
        if found or self._snapshot is None:
            self._snapshot = inventory_of(self.session.name, self._objects)
        return self._snapshot

    def _apply(self, update: _PC.ObjectUpdate) -> None:
        moid = update.obj._moId
        if update.kind == "leave":
            self._objects.pop(moid, None)
            return
        _, props = self._objects.setdefault(moid, (type(update.obj), {}))
        for change in update.changeSet or ():
            if change.op in ("remove", "indirectRemove"):
                props.pop(change.name, None)
            else:  # assign (whole values: the filter asks for no partial updates)
                props[change.name] = change.val


def _filter_spec(root: vim.Folder) -> _PC.FilterSpec:
    """Everything below the root folder, by traversal rather than through a container view:
    vcsim 0.24 adds a pool created after a view was made to the view only if its parent
    already listed it, which it does not yet, so a view would miss it for good."""

    def step(name: str, kind: type, path: str, *then: str) -> _PC.TraversalSpec:
        select = [_PC.SelectionSpec(name=n) for n in then]
        return _PC.TraversalSpec(name=name, type=kind, path=path, skip=False, selectSet=select)

    steps = [
        step(
            "folder", vim.Folder, "childEntity", "folder", "dc.host", "dc.vm", "cr.pool", "cr.host"
        ),
        step("dc.host", vim.Datacenter, "hostFolder", "folder"),
        step("dc.vm", vim.Datacenter, "vmFolder", "folder"),
        step("cr.pool", vim.ComputeResource, "resourcePool", "pool"),
        step("cr.host", vim.ComputeResource, "host", "host.ds", "host.net"),
        step("pool", vim.ResourcePool, "resourcePool", "pool"),
        step("host.ds", vim.HostSystem, "datastore"),  # the datacenter's list goes stale
        step("host.net", vim.HostSystem, "network"),
    ]
    return _PC.FilterSpec(
        objectSet=[_PC.ObjectSpec(obj=root, skip=True, selectSet=steps)],
        propSet=[
            _PC.PropertySpec(type=t, pathSet=list(p)) for t, p in INVENTORY_PROPERTIES.items()
        ],
    )
