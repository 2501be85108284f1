"""One platform lock acquisition shared by all the work a provider process has queued for it.

Terraform applies up to 10 resources at once through one provider process; taking and letting
go of the platform lock for each (a handful of round trips on either store) made 20 tenants
cost 20 acquisitions. A lease is taken by the first section, kept while other sections of this
process wait for it, and let go once none has come for ``LINGER`` seconds (Terraform sends the
next resource's apply only after the previous one answered, so an empty queue for a moment is
not yet idle), or when the process closes the store. The stores renew the lease as they
renewed the lock.

Sections run one at a time unless they name a ``key``: sections with different keys run side
by side (their round trips to the hosts overlap), sections with the same key one at a time,
and a section without a key runs alone. A key names everything a section reads and writes
(a tenant create: that tenant's record and pools), so every check made inside a section
(quota admission, name uniqueness) still sees no concurrent writer. Sections start in the
order they came, so a keyless one is never starved by keyed ones. Each section's writes are
saved before it ends (the stores see to it), so a lease kept a little longer holds nothing
unsaved.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

from ...bridge.diagnostics import DiagnosticError

__all__ = ["LINGER", "LOCK_WAIT", "Lease", "check_stop"]

LINGER = 0.5  # seconds an idle lease is kept for the next section
LOCK_WAIT = 120.0  # seconds a run waits for another's lock; PHOTON_LOCK_TIMEOUT overrides
log = logging.getLogger("provider.photon")
_ALONE = object()  # the key of a section that runs alone


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
        self._state = threading.Condition()  # guards the fields below
        self._waiting: list[object] = []  # tickets of sections not started, in arrival order
        self._running: list[object] = []  # keys of the sections running
        self._held = False
        self._ended = 0.0  # when the last section ended (monotonic)
        self._taking = threading.Lock()  # one acquisition at a time

    @contextlib.contextmanager
    def section(self, purpose: str, key: str | None = None) -> Iterator[None]:
        """Work done holding the platform lock, taken now unless this process holds it."""
        mine = _ALONE if key is None else key
        self._enter(mine)
        try:
            with self._taking:
                if not self._held:
                    self._take(purpose)
                    self._held = True
            yield
        finally:
            with self._state:
                self._running.remove(mine)
                self._ended = time.monotonic()
                idle = not self._running and not self._waiting and self._held
                self._state.notify_all()
            if idle:
                timer = threading.Timer(LINGER, self._expire)
                timer.daemon = True  # the store's close lets go at exit
                timer.start()

    def _enter(self, key: object) -> None:
        """Wait until every section that came earlier has started and none running conflicts."""
        ticket = [key]  # a new object per section, compared by identity
        with self._state:
            self._waiting.append(ticket)
            try:
                while self._waiting[0] is not ticket or not self._fits(key):
                    self._state.wait(0.2)
                    self._check_stop()
            except BaseException:
                self._waiting.remove(ticket)
                self._state.notify_all()
                raise
            self._waiting.pop(0)
            self._running.append(key)
            self._state.notify_all()  # the next in line may fit beside this one

    def _fits(self, key: object) -> bool:
        if key is _ALONE:
            return not self._running
        return _ALONE not in self._running and key not in self._running

    def _expire(self) -> None:
        """Let go when no section came since the one that started this timer ended."""
        with self._state:
            idle = not self._running and not self._waiting
            if idle and time.monotonic() - self._ended >= LINGER * 0.9:
                self._release()

    def close(self) -> None:
        """The process ends: let go now."""
        with self._state:
            self._release()

    def _release(self) -> None:
        if not self._held:
            return
        self._held = False
        try:
            self._let_go()
        except Exception as exc:  # the lock expires or goes with its connection anyway
            log.warning("Could not let go of the platform lock: %s", exc)


def check_stop(stop: threading.Event) -> None:
    """Either store's wait for the platform lock ends when Terraform asked to stop."""
    if stop.is_set():
        raise DiagnosticError(
            "Stopped while waiting for the platform lock",
            "Terraform asked the provider to stop; nothing was changed.",
        )
