"""The platform's own records (tenants, quotas) on a datastore of one host, and their lock.

Terraform state belongs to one configuration; the platform's limits must be visible to every
configuration that plans against the same hosts. So each tenant and quota is also kept as a
small versioned JSON file in ``photon-platform/`` on the records host's datastore:

    photon-platform/tenants/<tenant>.json
    photon-platform/quotas/<tenant>.json
    photon-platform/lock/owner.json      (present while a run holds the lock)

The lock is the folder ``lock`` itself: creating a folder that exists fails, so of two runs
only one can create it. The holder writes who it is and when the lock expires; a lock past
its expiry (a killed run) is moved aside atomically and taken over.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import socket
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

__all__ = ["FORMAT", "ROOT", "RecordStore"]

log = logging.getLogger("provider.photon")
FORMAT = 1
ROOT = "photon-platform"
_LOCK = f"{ROOT}/lock"
_OWNER = f"{_LOCK}/owner.json"
LOCK_TTL = datetime.timedelta(minutes=2)
LOCK_WAIT = 120.0  # seconds a run waits for another's lock; PHOTON_LOCK_TIMEOUT overrides
_OWNERLESS_GRACE = 10.0  # seconds a lock folder may stand without owner.json (being written)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class RecordStore:
    def __init__(self, files: DatastoreFiles, lock_wait: float | None = None) -> None:
        self.files = files
        self.host = files.session.name
        self.lock_wait = LOCK_WAIT if lock_wait is None else lock_wait

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
            "updated": _now().isoformat(),
            **body,
        }
        data = json.dumps(record, indent=2, sort_keys=True).encode()
        self._call(self.files.make_directory, f"{ROOT}/{kind}", True)
        self._call(self.files.write, f"{ROOT}/{kind}/{name}.json", data)

    def remove(self, kind: str, name: str) -> None:
        self._call(self.files.delete, f"{ROOT}/{kind}/{name}.json")

    # -- lock ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, purpose: str) -> Iterator[None]:
        """Hold the platform lock: checks and writes inside see no concurrent writer."""
        token = uuid.uuid4().hex
        self._acquire(token, purpose)
        try:
            yield
        finally:
            self._release(token)

    def _acquire(self, token: str, purpose: str) -> None:
        deadline = time.monotonic() + self.lock_wait
        ownerless_since: float | None = None
        delay = 0.05
        self._call(self.files.make_directory, ROOT, True)
        while True:
            try:
                self.files.make_directory(_LOCK)
                break
            except AlreadyExists:
                pass
            except EsxiError as exc:
                raise host_error(exc) from exc
            owner = self._owner()
            if owner is None:
                ownerless_since = ownerless_since or time.monotonic()
                stale = time.monotonic() - ownerless_since > _OWNERLESS_GRACE
            else:
                ownerless_since = None
                stale = _expired(owner)
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
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        owner_record = {
            "token": token,
            "owner": f"{socket.gethostname()}:{os.getpid()}",
            "purpose": purpose,
            "acquired": _now().isoformat(),
            "expires": (_now() + LOCK_TTL).isoformat(),
        }
        self._call(self.files.write, _OWNER, json.dumps(owner_record).encode())
        log.debug("Took the platform lock", **log_context(host=self.host, purpose=purpose))

    def _owner(self) -> dict[str, Any] | None:
        data = self._call(self.files.read, _OWNER)
        if data is None:
            return None
        try:
            owner = json.loads(data)
            return owner if isinstance(owner, dict) else {}
        except ValueError:
            return {}  # unreadable: treated as expired

    def _break(self, owner: dict[str, Any] | None) -> None:
        """Move a stale lock aside (atomic: of two runs breaking it, one succeeds)."""
        log.info(
            "Breaking a stale platform lock",
            **log_context(host=self.host, owner=_describe(owner)),
        )
        aside = f"{ROOT}/lock.stale-{uuid.uuid4().hex[:12]}"
        try:
            self.files.move(_LOCK, aside)
        except (NotFound, AlreadyExists):
            return  # someone else broke it first
        except EsxiError as exc:
            raise host_error(exc) from exc
        self._call(self.files.delete, aside)

    def _release(self, token: str) -> None:
        owner = self._owner()
        if owner is not None and owner.get("token") != token:
            log.warning(
                "The platform lock was taken over before release", **log_context(host=self.host)
            )
            return
        self._call(self.files.delete, _LOCK)


def _expired(owner: dict[str, Any]) -> bool:
    try:
        return datetime.datetime.fromisoformat(owner["expires"]) <= _now()
    except (KeyError, TypeError, ValueError):
        return True


def _describe(owner: dict[str, Any] | None) -> str:
    if not owner:
        return "an unknown run"
    who, why, since = (owner.get(k, "?") for k in ("owner", "purpose", "acquired"))
    return f"{who} ({why}, since {since})"


def _describe_expiry(owner: dict[str, Any] | None) -> str:
    return f"at {owner['expires']}" if owner and "expires" in owner else "shortly"
