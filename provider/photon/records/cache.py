"""Plain reads of the platform records, shared within a provider process.

A Terraform phase serves all its resources from one process, and each resource's refresh
read its record on its own: one HTTPS GET (datastore) or one query (PostgreSQL) per resource.
``SharedReads`` wraps the store and answers plain reads from what this process read shortly
before. The freshness rule:

- While a section holding the platform lock runs in this process, every read goes to the
  store: quota admission and every check before a write see the latest records (and the
  PostgreSQL store notes the versions it read, for its write checks).
- Otherwise (refresh, plan, import) a read is answered from a read of the store made at most
  ``FRESH`` seconds ago by this process: a whole kind in one query where the store can
  (``read_all``: PostgreSQL), else that one record (the datastore, where a listing would cost
  a file search plus a GET per record). A write or removal by this process drops what was
  kept of that kind, and a read begun before it is not kept.

So a plain read is never older than ``FRESH`` seconds, which is what a refresh promises anyway:
another run's write during it may or may not be seen, with or without this cache.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from ...bridge.diagnostics import DiagnosticError
from . import Record, RecordStore

__all__ = ["FRESH", "SharedReads"]

FRESH = 5.0  # seconds a plain read may be answered from this process's earlier read


class SharedReads:
    """A ``RecordStore`` that shares plain reads; everything else goes to ``store``."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._sections = 0  # sections holding the platform lock, running now
        self._generation: dict[str, int] = {}  # per kind, bumped by every write
        self._kept: dict[tuple[str, str | None], tuple[float, Any]] = {}
        self._reading: dict[tuple[str, str | None], threading.Lock] = {}

    def get(self, kind: str, name: str) -> Record | None:
        if self._sections:
            return self.store.get(kind, name)
        read_all = getattr(self.store, "read_all", None)
        if read_all is None:
            return self._shared((kind, name), lambda: self.store.get(kind, name))
        found = self._shared((kind, None), lambda: read_all(kind)).get(name)
        if isinstance(found, DiagnosticError):
            raise found
        return found

    def _shared(self, key: tuple[str, str | None], read: Any) -> Any:
        """One read per key at a time; a fresh enough earlier one is reused."""
        with self._lock:
            reading = self._reading.setdefault(key, threading.Lock())
        with reading:
            with self._lock:
                kept = self._kept.get(key)
                generation = self._generation.get(key[0], 0)
            if kept is not None and time.monotonic() - kept[0] < FRESH:
                return kept[1]
            started = time.monotonic()
            value = read()
            with self._lock:
                if self._generation.get(key[0], 0) == generation:  # no write since it began
                    self._kept[key] = (started, value)
            return value

    def _written(self, kind: str) -> None:
        with self._lock:
            self._generation[kind] = self._generation.get(kind, 0) + 1
            for key in [k for k in self._kept if k[0] == kind]:
                del self._kept[key]

    def put(self, kind: str, name: str, body: Record, *, updated: str | None = None) -> None:
        try:
            self.store.put(kind, name, body, updated=updated)
        finally:
            self._written(kind)

    def remove(self, kind: str, name: str) -> None:
        try:
            self.store.remove(kind, name)
        finally:
            self._written(kind)

    def names(self, kind: str) -> list[str]:
        return self.store.names(kind)

    @contextlib.contextmanager
    def locked(self, purpose: str, key: str | None = None) -> Iterator[None]:
        with self.store.locked(purpose, key):
            with self._lock:
                self._sections += 1
            try:
                yield
            finally:
                with self._lock:
                    self._sections -= 1

    def confirm_lock(self) -> None:
        self.store.confirm_lock()

    def close(self) -> None:
        self.store.close()
