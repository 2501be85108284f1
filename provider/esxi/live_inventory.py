"""One host's inventory, kept current for the life of a provider process.

A Terraform phase serves all its resources from one process, and each resource reads every
host: re-reading the whole inventory per resource costs a round trip per host each time.
Instead, the first read takes the whole inventory (``RetrievePropertiesEx``) while a
PropertyCollector filter over the same objects is made beside it (the two calls overlap: one
round trip), and every later read asks that filter for what changed (``WaitForUpdatesEx`` with
``maxWaitSeconds=0``: one small call) and applies it to the kept properties. The filter's
first answer holds everything again, as of its own moment: it replaces what was kept.

The filter sits on the session's own PropertyCollector (filters are private to a session,
and nothing else in the adapter waits for updates on that collector: ``watch.py`` makes its
own), which saves the call that would make a collector; a second kept inventory on the same
session (after ``forget``) makes its own collector, so two filters never share one.

Freshness: a change is in the collector's update stream once the call or task that made it
has completed, so a read that starts after a write (this provider's or anyone's) sees it. A
reader only ever uses the answer of a call that started after the reader asked (``asked``:
the moment it began to wait, logging in included); readers that asked before a call began
share it (single flight), so concurrent reads of one host cost one call, never a stale
snapshot.

The collectors and filters belong to the session: logging out (or the host restarting) takes
them with it, so there is nothing to destroy; after a failure the caller builds a new one.
"""

from __future__ import annotations

import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from pyVmomi import vim, vmodl

from .collector import retrieve_all, updates_since
from .faults import translated
from .inventory import INVENTORY_PROPERTIES, Inventory, inventory_of
from .session import HostSession

__all__ = ["LiveInventory"]

_PC = vmodl.query.PropertyCollector
_SHARED: weakref.WeakSet[HostSession] = weakref.WeakSet()  # sessions whose collector is taken
_SHARED_LOCK = threading.Lock()


class LiveInventory:
    """``current()`` is the host's inventory as of a moment after the call began."""

    def __init__(self, session: HostSession) -> None:
        self.session = session
        self._objects: dict[str, tuple[type, dict[str, object]]] = {}
        self._collector: _PC | None = None  # made by the first call
        self._version = ""  # the filter's first answer holds everything
        self._snapshot: Inventory | None = None
        self._turn = threading.Condition()
        self._busy = False  # a call is in flight
        self._began = 0.0  # when the last finished call began; its outcome is in _outcome
        self._outcome: Inventory | BaseException | None = None

    def current(self, asked: float | None = None) -> Inventory:
        """The inventory, brought up to date by a call that began after ``asked`` (a
        ``time.monotonic()`` taken when the reader began to wait; default: now)."""
        asked = time.monotonic() if asked is None else asked
        with self._turn:
            while self._outcome is None or self._began < asked:
                if self._busy:
                    self._turn.wait()
                    continue
                self._busy, began = True, time.monotonic()
                self._turn.release()
                try:
                    outcome: Inventory | BaseException = self._update()
                except BaseException as exc:  # handed to every reader of this call
                    outcome = exc
                finally:
                    self._turn.acquire()
                self._busy, self._began, self._outcome = False, began, outcome
                self._turn.notify_all()
            if isinstance(self._outcome, BaseException):
                raise self._outcome
            return self._outcome

    def latest(self) -> Inventory | None:
        """The inventory as last brought up to date, without a call: only for what cannot
        change while the session lives (the root pool's moid); None before the first read."""
        return self._snapshot

    def _update(self) -> Inventory:
        with translated(self.session.name):
            if self._collector is None:
                self._first_read()
                changed = True
            else:
                version = self._version
                self._version, found = updates_since(self._collector, version, 0)
                if not version:  # everything, as of this answer: nothing kept outlives it
                    self._objects.clear()
                for update in found:
                    self._apply(update)
                changed = bool(found)
        if changed or self._snapshot is None:
            self._snapshot = inventory_of(self.session.name, self._objects)
        return self._snapshot

    def _first_read(self) -> None:
        """The whole inventory, with the filter for later reads made beside it."""
        content = self.session.content
        spec = _filter_spec(content.rootFolder)
        with ThreadPoolExecutor(max_workers=1) as pool:
            made = pool.submit(self._make_filter, spec)
            objects = retrieve_all(content.propertyCollector, spec)
        self._collector = made.result()
        self._objects = {moid: (kind, dict(props)) for moid, (kind, props) in objects.items()}

    def _make_filter(self, spec: _PC.FilterSpec) -> _PC:
        with _SHARED_LOCK:
            shared = self.session not in _SHARED
            _SHARED.add(self.session)
        content = self.session.content
        with translated(self.session.name):
            if shared:
                collector = content.propertyCollector
            else:
                collector = content.propertyCollector.CreatePropertyCollector()
            collector.CreateFilter(spec, partialUpdates=False)
        return collector

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
