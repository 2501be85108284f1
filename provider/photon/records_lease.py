"""One platform lock acquisition shared by all the work a provider process has queued for it.

Terraform applies up to 10 resources at once through one provider process; taking and letting
go of the platform lock for each (a handful of round trips on either store) made 20 tenants
cost 20 acquisitions. A lease is taken by the first section, kept while other sections of this
process wait for it, and let go once none has come for ``LINGER`` seconds (Terraform sends the
next resource's apply only after the previous one answered, so an empty queue for a moment is
not yet idle), or when the process closes the store. Sections still run one at a time, so
every check made inside one (quota admission) sees no concurrent writer, as before; only the
acquisition is shared. Each section's writes are saved before it ends (the stores see to it),
so a lease kept a little longer holds nothing unsaved. The stores renew the lease as they
renewed the lock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

__all__ = ["LINGER", "Lease"]

LINGER = 0.5  # seconds an idle lease is kept for the next section
log = logging.getLogger("provider.photon")


class Lease:
    """``take(purpose)`` acquires the store's lock, ``let_go()`` releases it; ``check_stop``
    raises when Terraform asked to stop (called while a section waits for its turn)."""

    def __init__(
        self,
        take: Callable[[str], None],
        let_go: Callable[[], None],
        check_stop: Callable[[], None],
    ) -> None:
        self._take, self._let_go, self._check_stop = take, let_go, check_stop
        self._turn = threading.Lock()  # one section at a time
        self._count = threading.Lock()
        self._queued = 0  # sections waiting or running
        self._held = False
        self._ended = 0.0  # when the last section ended (monotonic)

    @contextlib.contextmanager
    def section(self, purpose: str) -> Iterator[None]:
        """Work done holding the platform lock, taken now unless this process holds it."""
        with self._count:
            self._queued += 1
        try:
            while not self._turn.acquire(timeout=0.2):
                self._check_stop()
        except BaseException:
            with self._count:
                self._queued -= 1
            raise
        try:
            if not self._held:
                self._take(purpose)
                self._held = True
            yield
        finally:
            with self._count:
                self._queued -= 1
                idle = self._queued == 0
                self._ended = time.monotonic()
            if idle and self._held:
                timer = threading.Timer(LINGER, self._expire)
                timer.daemon = True  # the store's close lets go at exit
                timer.start()
            self._turn.release()

    def _expire(self) -> None:
        """Let go when no section came since the one that started this timer ended."""
        with self._turn:
            with self._count:
                idle = self._queued == 0 and time.monotonic() - self._ended >= LINGER * 0.9
            if idle:
                self._release()

    def close(self) -> None:
        """The process ends: let go now."""
        with self._turn:
            self._release()

    def _release(self) -> None:
        if not self._held:
            return
        self._held = False
        try:
            self._let_go()
        except Exception as exc:  # the lock expires or goes with its connection anyway
            log.warning("Could not let go of the platform lock: %s", exc)
