"""The platform records on a datastore of one host (the default store), and their lock.

Each record is a small JSON file in ``photon-platform/`` on the records host's datastore:

    photon-platform/<kind>/<name>.json     (tenants, quotas, clusters, health)
    photon-platform/<kind>/<name>.json.1   (the previous version, to recover from)
    photon-platform/lock/owner.json        (present while a run holds the lock)

The lock is the folder ``lock`` itself: creating a folder that exists fails, so of two runs
only one can create it. The holder writes who it is and when the lock expires (by the host's
clock, pushed forward while held); a lock past its expiry (a killed run) is moved aside
atomically and taken over. Only a token match releases or takes over a lock, and every write
under the lock first checks that the token is still the holder's (fencing): a run whose lock
was taken over stops before it writes.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import socket
import threading
import time
import uuid
from contextlib import AbstractContextManager
from functools import partial
from typing import TYPE_CHECKING, Any

from ...bridge.diagnostics import DiagnosticError
from ...bridge.logs import log_context
from ...esxi.errors import AlreadyExists, EsxiError, NotFound
from ..errors import host_error
from . import FORMAT, Record, encode, shaped
from .lease import LOCK_WAIT, Lease, check_stop

if TYPE_CHECKING:
    from ...esxi.datastore import DatastoreFiles

__all__ = ["ROOT", "DatastoreRecords"]

log = logging.getLogger("provider.photon")
ROOT = "photon-platform"
_LOCK = f"{ROOT}/lock"
_OWNER = f"{_LOCK}/owner.json"
LOCK_TTL = datetime.timedelta(minutes=2)
_OWNERLESS_GRACE = 10.0  # seconds a lock folder may stand without owner.json (being written)


class DatastoreRecords:
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
        self._lease = Lease(self._take, self._let_go, partial(check_stop, self.stop))
        self._renewing = threading.Event()
        self._renewer: threading.Thread | None = None
        self._root_made = True  # until the lock folder cannot be made for want of it
        self._folders: set[str] = set()  # kind folders known to exist
        self._token: str | None = None  # the lock's token while this process holds it
        # Records read as absent while this process held the lock: no other run wrote them
        # since, so writing one needs no copy of a previous version (two round trips).
        self._absent: set[str] = set()

    def _where(self, path: str) -> str:
        return f"[{self.files.datastore}] {path} on host {self.host}"

    def _call(self, action: Any, *args: Any) -> Any:
        try:
            return action(*args)
        except EsxiError as exc:
            raise host_error(exc) from exc

    # -- records ------------------------------------------------------------------------

    def get(self, kind: str, name: str) -> Record | None:
        path = f"{ROOT}/{kind}/{name}.json"
        token = self._token
        data = self._call(self.files.read, path)
        if data is None:
            if token is not None and token == self._token:  # held from before the read on
                self._absent.add(path)
            return None
        try:
            return _parsed(kind, data)
        except ValueError as exc:
            raise DiagnosticError(
                "Unreadable platform record",
                f"{self._where(path)} cannot be read: {exc}. It was not changed. "
                f"{self._recovery(kind, path)} Then run Terraform again.",
            ) from exc

    def _recovery(self, kind: str, path: str) -> str:
        """How to repair: from the previous copy if it can be read, else by hand."""
        previous = self._call(self.files.read, f"{path}.1")
        try:
            updated = _parsed(kind, previous)["updated"] if previous is not None else None
        except ValueError:
            updated = None
        if updated is None:
            return (
                "Repair or remove the file by hand (the datastore browser of the host shows "
                "it); there is no readable previous copy."
            )
        return (
            f"Its previous version {path}.1 (written {updated}) can be read: to recover, "
            f"copy {path.rsplit('/', 1)[1]}.1 over {path.rsplit('/', 1)[1]} in the datastore "
            "browser of the host (changes made after that time are then lost), or repair "
            "or remove the file by hand."
        )

    def put(self, kind: str, name: str, body: Record, *, updated: str | None = None) -> None:
        data = encode(shaped(kind, name, body, updated)).encode()
        folder, path = f"{ROOT}/{kind}", f"{ROOT}/{kind}/{name}.json"
        if folder not in self._folders:
            self._call(self.files.make_directory, folder, True)
            self._folders.add(folder)
        if path in self._absent:  # no previous version: the fencing check overlaps the PUT
            self._call(self.files.replace, path, data, self.confirm_lock)
        else:
            self.confirm_lock()
            self._call(self.files.copy, path, f"{path}.1")  # the previous version, if any
            self._call(self.files.replace, path, data)
        self._absent.discard(path)

    def remove(self, kind: str, name: str) -> None:
        """The record goes, and its previous version with it: a destroyed cluster's secrets
        must not outlive it in a copy. The copy goes first, so an interrupted removal leaves
        the record (removed again next time), never a copy without its record."""
        path = f"{ROOT}/{kind}/{name}.json"
        self.confirm_lock()
        for gone in (f"{path}.1", path):
            self._call(self.files.delete, gone)

    def names(self, kind: str) -> list[str]:
        files = self._call(self.files.list, f"{ROOT}/{kind}", "*.json")
        return [f.removesuffix(".json") for f in files if f.endswith(".json")]

    def confirm_lock(self) -> None:
        """While this process holds the lock, check that it is still the holder's token."""
        token = self._token
        if token is None:
            return
        owner = self._owner()
        if owner is None or owner.get("token") != token:
            raise DiagnosticError(
                "Platform lock lost",
                f"The lock {self._where(_LOCK)} was taken over by {_describe(owner)} while "
                "this run held it, so this run stopped before writing. Run again; what was "
                "done so far is kept in the Terraform state.",
            )

    def close(self) -> None:
        """Let go of a lease kept for more work; the host's session belongs to the platform."""
        self._lease.close()

    # -- lock ---------------------------------------------------------------------------

    def locked(self, purpose: str, key: str | None = None) -> AbstractContextManager[None]:
        """Hold the platform lock: checks and writes inside see no concurrent writer.

        Sections of this process share one acquisition while more are queued, and sections
        with different keys run side by side (``records/lease.py``; each record is a file
        of its own), so a run never waits for itself on the datastore. While held, the
        expiry is pushed forward regularly."""
        return self._lease.section(purpose, key)

    def _take(self, purpose: str) -> None:
        token = uuid.uuid4().hex
        self._absent = set()  # another run may have written anything while it was not held
        self._acquire(token, purpose)
        self._token = token
        self._renewing = threading.Event()
        self._renewer = threading.Thread(
            target=self._renew, args=(token, purpose, self._renewing), daemon=True
        )
        self._renewer.start()

    def _let_go(self) -> None:
        token, self._token = self._token, None
        self._absent = set()
        self._renewing.set()
        if self._renewer is not None:
            self._renewer.join()
        if token is not None:
            self._release(token)

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
                check_stop(self.stop)
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


def _describe(owner: dict[str, Any] | None) -> str:
    if not owner or "owner" not in owner:
        return "an unknown run"
    who, why, since = (owner.get(k, "?") for k in ("owner", "purpose", "acquired"))
    return f"{who} ({why}, since {since})"


def _describe_expiry(owner: dict[str, Any] | None) -> str:
    return f"at {owner['expires']}" if owner and "expires" in owner else "shortly"


def _parsed(kind: str, data: bytes) -> Record:
    """A record file's content, checked; ``ValueError`` saying what is wrong."""
    record = json.loads(data)
    if not isinstance(record, dict) or record.get("kind") != kind.rstrip("s"):
        raise ValueError(f"not a {kind.rstrip('s')} record")
    if record.get("format") != FORMAT:
        raise ValueError(f"format {record.get('format')!r}, this provider reads {FORMAT}")
    return record
