"""The platform's own records (tenants, quotas) on a datastore of one host, and their lock.

Terraform state belongs to one configuration; the platform's limits must be visible to every
configuration that plans against the same hosts. So each tenant and quota is also kept as a
small versioned JSON file in ``photon-platform/`` on the records host's datastore:

    photon-platform/tenants/<tenant>.json
    photon-platform/quotas/<tenant>.json
    photon-platform/lock/owner.json      (present while a run holds the lock)

The lock is the folder ``lock`` itself: creating a folder that exists fails, so of two runs
only one can create it. The holder writes who it is and when the lock expires (by the host's
clock, pushed forward while held); a lock past its expiry (a killed run) is moved aside
atomically and taken over. Only a token match releases or takes over a lock.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..bridge.diagnostics import DiagnosticError
from ..bridge.logs import log_context
from ..esxi.errors import AlreadyExists, EsxiError, NotFound
from .platform import host_error

if TYPE_CHECKING:
    from ..esxi.datastore import DatastoreFiles

__all__ = ["CLUSTERS", "FORMAT", "ROOT", "RecordStore"]

log = logging.getLogger("provider.photon")
FORMAT = 1
ROOT = "photon-platform"
CLUSTERS = "clusters"  # the folder of cluster records
_LOCK = f"{ROOT}/lock"
_OWNER = f"{_LOCK}/owner.json"
LOCK_TTL = datetime.timedelta(minutes=2)
LOCK_WAIT = 120.0  # seconds a run waits for another's lock; PHOTON_LOCK_TIMEOUT overrides
_OWNERLESS_GRACE = 10.0  # seconds a lock folder may stand without owner.json (being written)


class RecordStore:
    def __init__(
        self,
        files: DatastoreFiles,
        lock_wait: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.files = files
        self.host = files.session.name
        self.lock_wait = LOCK_WAIT if lock_wait is None else lock_wait
        self.stop = stop or threading.Event()  # Terraform asked to stop: waits end
        self._process_lock = threading.Lock()
        self._root_made = False

    def _where(self, path: str) -> str:
        return f"[{self.files.datastore}] {path} on host {self.host}"

    def _call(self, action: Any, *args: Any) -> Any:
        try:
            return action(*args)
        except EsxiError as exc:
            raise host_error(exc) from exc

    # -- records ------------------------------------------------------------------------

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        path = f"{ROOT}/{kind}/{name}.json"
        data = self._call(self.files.read, path)
        if data is None:
            return None
        try:
            record = json.loads(data)
            if not isinstance(record, dict) or record.get("kind") != kind.rstrip("s"):
                raise ValueError(f"not a {kind.rstrip('s')} record")
            if record.get("format") != FORMAT:
                raise ValueError(f"format {record.get('format')!r}, this provider reads {FORMAT}")
        except ValueError as exc:
            raise DiagnosticError(
                "Unreadable platform record",
                f"{self._where(path)} cannot be read: {exc}. It was not changed. Repair or "
                "remove the file by hand (the datastore browser of the host shows it), then "
                "run Terraform again.",
            ) from exc
        return record

    def put(self, kind: str, name: str, body: dict[str, Any]) -> None:
        record = {
            "format": FORMAT,
            "kind": kind.rstrip("s"),
            "name": name,
            "updated": datetime.datetime.now(datetime.UTC).isoformat(),
            **body,
        }
        data = json.dumps(record, indent=2, sort_keys=True, default=_number).encode()
        self._call(self.files.make_directory, f"{ROOT}/{kind}", True)
        self._call(self.files.replace, f"{ROOT}/{kind}/{name}.json", data)

    def remove(self, kind: str, name: str) -> None:
        self._call(self.files.delete, f"{ROOT}/{kind}/{name}.json")

    # -- lock ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, purpose: str) -> Iterator[None]:
        """Hold the platform lock: checks and writes inside see no concurrent writer.

        Threads of this process queue on an in-process lock first, so a run never waits
        for itself on the datastore. While held, the expiry is pushed forward regularly."""
        while not self._process_lock.acquire(timeout=0.2):
            self._check_stop()
        try:
            token = uuid.uuid4().hex
            self._acquire(token, purpose)
            renewing = threading.Event()
            renewer = threading.Thread(
                target=self._renew, args=(token, purpose, renewing), daemon=True
            )
            renewer.start()
            try:
                yield
            finally:
                renewing.set()
                renewer.join()
                self._release(token)
        finally:
            self._process_lock.release()

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise DiagnosticError(
                "Stopped while waiting for the platform lock",
                "Terraform asked the provider to stop; nothing was changed.",
            )

    def _acquire(self, token: str, purpose: str) -> None:
        deadline = time.monotonic() + self.lock_wait
        ownerless_since: float | None = None
        delay = 0.05
        while True:
            if not self._root_made:
                self._call(self.files.make_directory, ROOT, True)
                self._root_made = True
            try:
                self.files.make_directory(_LOCK)
                break
            except AlreadyExists:
                pass
            except NotFound:  # the records folder was removed since: make it again
                self._root_made = False
                continue
            except EsxiError as exc:
                raise host_error(exc) from exc
            owner = self._owner()
            if owner is None:
                ownerless_since = ownerless_since or time.monotonic()
                stale = time.monotonic() - ownerless_since > _OWNERLESS_GRACE
            else:
                ownerless_since = None
                stale = self._expired(owner)
            if stale:
                self._break(owner)
                continue
            if time.monotonic() > deadline:
                raise DiagnosticError(
                    "Platform records are locked",
                    f"Another run holds the lock {self._where(_LOCK)}: "
                    f"{_describe(owner)}. Retry when it has finished; a lock left by a killed "
                    f"run expires by itself ({_describe_expiry(owner)}).",
                )
            if self.stop.wait(delay):
                self._check_stop()
            delay = min(delay * 2, 1.0)
        self._write_owner(token, purpose)
        log.debug("Took the platform lock", **log_context(host=self.host, purpose=purpose))

    def _host_now(self) -> datetime.datetime:
        return self._call(self.files.host_time)

    def _write_owner(
        self, token: str, purpose: str, acquired: datetime.datetime | None = None
    ) -> None:
        now = self._host_now()
        owner = {
            "token": token,
            "owner": f"{socket.gethostname()}:{os.getpid()}",
            "purpose": purpose,
            "acquired": (acquired or now).isoformat(),
            "expires": (now + LOCK_TTL).isoformat(),
        }
        self._call(self.files.replace, _OWNER, json.dumps(owner).encode())

    def _renew(self, token: str, purpose: str, done: threading.Event) -> None:
        """Push the expiry forward while the lock is held, so long work keeps it."""
        while not done.wait(LOCK_TTL.total_seconds() / 4):
            try:
                owner = self._owner()
                if owner is None or owner.get("token") != token:
                    log.warning("The platform lock was taken over", **log_context(host=self.host))
                    return
                acquired = datetime.datetime.fromisoformat(owner["acquired"])
                self._write_owner(token, purpose, acquired)
            except (DiagnosticError, KeyError, ValueError) as exc:
                log.warning("Could not renew the platform lock: %s", exc)

    def _owner(self) -> dict[str, Any] | None:
        return self._read_owner(_OWNER)

    def _read_owner(self, path: str) -> dict[str, Any] | None:
        data = self._call(self.files.read, path)
        if data is None:
            return None
        try:
            owner = json.loads(data)
            return owner if isinstance(owner, dict) else {}
        except ValueError:
            return {}  # unreadable: treated as expired

    def _expired(self, owner: dict[str, Any]) -> bool:
        try:
            return datetime.datetime.fromisoformat(owner["expires"]) <= self._host_now()
        except (KeyError, TypeError, ValueError):
            return True

    def _break(self, stale: dict[str, Any] | None) -> None:
        """Move the stale lock aside (atomic: of two runs breaking it, one succeeds), then
        make sure it was the stale one: if another run took the lock in between, put its
        lock back untouched."""
        log.info(
            "Breaking a stale platform lock",
            **log_context(host=self.host, owner=_describe(stale)),
        )
        aside = f"{ROOT}/lock.stale-{uuid.uuid4().hex[:12]}"
        try:
            self.files.move(_LOCK, aside)
        except (NotFound, AlreadyExists):
            return  # someone else broke it first
        except EsxiError as exc:
            raise host_error(exc) from exc
        moved = self._read_owner(f"{aside}/owner.json")
        if (moved or {}).get("token") != (stale or {}).get("token"):
            try:
                self.files.move(aside, _LOCK)  # a live lock: give it back
                return
            except AlreadyExists:
                # A third run took the lock meanwhile. The moved lock's holder learns that its
                # lock was taken over (see _renew); this needs three runs within milliseconds.
                pass
            except EsxiError as exc:
                raise host_error(exc) from exc
        self._call(self.files.delete, aside)

    def _release(self, token: str) -> None:
        """Remove the lock if it is still ours; a failure here only warns: the work is done,
        and an unreleased lock expires by itself."""
        try:
            owner = self._owner()
            if owner is None or owner.get("token") != token:
                log.warning(
                    "The platform lock was taken over before release",
                    **log_context(host=self.host),
                )
                return
            self._call(self.files.delete, _LOCK)
        except DiagnosticError as exc:
            log.warning(
                "Could not release the platform lock; it expires by itself: %s",
                exc.diagnostic.detail,
                **log_context(host=self.host),
            )


def _number(value: object) -> int | float:
    """Terraform numbers arrive as Decimal; records hold plain JSON numbers."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} cannot go into a record")


def _describe(owner: dict[str, Any] | None) -> str:
    if not owner:
        return "an unknown run"
    who, why, since = (owner.get(k, "?") for k in ("owner", "purpose", "acquired"))
    return f"{who} ({why}, since {since})"


def _describe_expiry(owner: dict[str, Any] | None) -> str:
    return f"at {owner['expires']}" if owner and "expires" in owner else "shortly"
