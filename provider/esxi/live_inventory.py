"""One host's inventory, kept current for the life of a provider process.

A Terraform phase serves all its resources from one process, and each resource reads every
host: re-reading the whole inventory per resource costs a round trip per host each time.
Instead, the first read takes the whole inventory (``RetrievePropertiesEx``: one round trip)
while a PropertyCollector of its own and a filter over the same objects are made in the
background (two more, off the reader's path: the next read is seldom sooner). Every later read
asks that filter for what changed (``WaitForUpdatesEx`` with ``maxWaitSeconds=0``: one small
call) and applies it to the kept properties; the filter's first answer holds everything
again, as of its own moment, and replaces what was kept.

A collector of its own, not the session's (``ServiceContent.propertyCollector``, which the
API makes private to the session): vcsim 0.24 registers every session's instance of that
collector for updates under one key, so only the session that asked last would hear of
changes.

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
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from pyVmomi import vim, vmodl

from .collector import retrieve_all, updates_since
from .faults import translated
from .inventory import INVENTORY_PROPERTIES, Inventory, inventory_of
from .session import HostSession

__all__ = ["LiveInventory"]

_PC = vmodl.query.PropertyCollector
T = TypeVar("T")


class LiveInventory:
    """``current()`` is the host's inventory as of a moment after the call began."""

    def __init__(self, session: HostSession) -> None:
        self.session = session
        self._objects: dict[str, tuple[type, dict[str, object]]] = {}
        self._collector: Future[_PC] | None = None  # made beside the first read
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
                collector = self._collector.result()  # made by now, as a rule
                self._version, found = updates_since(collector, version, 0)
                if not version:  # everything, as of this answer: nothing kept outlives it
                    self._objects.clear()
                for update in found:
                    self._apply(update)
                changed = bool(found)
        if changed or self._snapshot is None:
            self._snapshot = inventory_of(self.session.name, self._objects)
        return self._snapshot

    def _first_read(self) -> None:
        """The whole inventory, with the filter for later reads made in the background."""
        content = self.session.content
        spec = _filter_spec(content.rootFolder)
        self._collector = _in_background(self._make_filter, spec)
        self._objects = retrieve_all(content.propertyCollector, spec)  # dicts of its own

    def _make_filter(self, spec: _PC.FilterSpec) -> _PC:
        with translated(self.session.name):
            collector = self.session.content.propertyCollector.CreatePropertyCollector()
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


def _in_background(work: Callable[..., T], *args: object) -> Future[T]:
    """``work(*args)`` on a thread of its own; its outcome (or fault) in the future."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work(*args))
        except BaseException as exc:  # handed to the read that needs it
            future.set_exception(exc)

    threading.Thread(target=run, name="inventory filter", daemon=True).start()
    return future
