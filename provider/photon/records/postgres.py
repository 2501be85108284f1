"""The platform records in PostgreSQL, for teams that run it already (Terraform's pg backend).

One table holds every record as a row (kind, name, body as jsonb, ``updated``, ``version``);
the provider creates and migrates it itself: ``photon_schema`` lists the migrations applied,
and migrating runs under a transaction-scoped advisory lock, so two runs starting at once
migrate once. The platform lock is a session-level advisory lock, which one acquisition can
keep for several steps of this process (``records/lease.py``); each step under it runs in one
transaction, committed when the step ends. So a quota admission (limits read, usage counted,
VMs made, record written) is one transaction that no other run can interleave with, and a
killed run's lock goes with its connection. Writes under the lock are conditional on the
version read in the same step, so a writer that bypassed the lock is detected instead of
overwritten.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from ...bridge.cty import Path
from ...bridge.diagnostics import DiagnosticError
from ...bridge.logs import log_context
from . import Record, encode, shaped
from .lease import LOCK_WAIT, Lease, check_stop

__all__ = ["SCHEMA_VERSION", "PostgresRecords", "describe"]

log = logging.getLogger("provider.photon")
SCHEMA_VERSION = 1
_MIGRATIONS = {
    1: """CREATE TABLE photon_records (
            kind text NOT NULL,
            name text NOT NULL,
            body jsonb NOT NULL,
            updated timestamptz NOT NULL,
            version bigint NOT NULL DEFAULT 1,
            PRIMARY KEY (kind, name))""",
}
KEY = 0x70686F74  # "phot": this provider's class of advisory locks
PLATFORM_LOCK, _MIGRATION_LOCK = 1, 2
_WAIT_SLICE = 0.2  # seconds of one wait for the lock: a stop is noticed this soon
_CONNECT_TIMEOUT = "10"  # seconds, unless the URL says connect_timeout
_ANY = object()  # a write not conditional on a version
_UPSERT = """INSERT INTO photon_records (kind, name, body, updated) VALUES (%s, %s, %s, %s)
    ON CONFLICT (kind, name) DO UPDATE
    SET body = EXCLUDED.body, updated = EXCLUDED.updated, version = photon_records.version + 1"""


def describe(url: str) -> str:
    """The database a URL names, without its password: for messages and logs."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(an invalid URL)"
    user = f"{info['user']}@" if info.get("user") else ""
    where = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"
    return f"postgres://{user}{where}/{info.get('dbname') or ''}"


class PostgresRecords:
    def __init__(
        self,
        url: str,
        lock_wait: float | None = None,
        stop: threading.Event | None = None,
        path: Path | None = None,
    ) -> None:
        """Connect and bring the schema up to date; ``path`` is where the URL was configured
        (for diagnostics). Raises ``DiagnosticError`` if the database cannot be used."""
        self.where = describe(url)
        self.lock_wait = LOCK_WAIT if lock_wait is None else lock_wait
        self.stop = stop or threading.Event()  # Terraform asked to stop: waits end
        self._path = path
        self._mutex = threading.RLock()  # one statement sequence at a time on the connection
        self._lease = Lease(self._acquire, self._let_go, partial(check_stop, self.stop))
        self._held = False  # inside a section holding the platform lock: one open transaction
        self._seen: dict[tuple[str, str], int | None] = {}  # versions read in this section
        self._conn = self._connect(url)
        try:
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    # -- connection and schema ------------------------------------------------------------

    def _connect(self, url: str) -> psycopg.Connection[Any]:
        try:
            given = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise DiagnosticError(
                "Invalid PostgreSQL URL",
                f"The records database URL cannot be read ({exc}). Write it as libpq does: "
                "postgres://user:password@host:5432/database?sslmode=verify-full"
                "&sslrootcert=/path/to/ca.pem.",
                self._path,
            ) from exc
        extra = {
            "connect_timeout": _CONNECT_TIMEOUT,
            "application_name": f"terraform-provider-photon {socket.gethostname()}:{os.getpid()}",
        }
        try:
            options = {k: v for k, v in extra.items() if k not in given}
            return psycopg.connect(url, autocommit=True, **options)  # one round trip a read
        except psycopg.OperationalError as exc:
            raise self._connect_error(exc) from exc

    def _connect_error(self, exc: psycopg.OperationalError) -> DiagnosticError:
        message = " ".join(str(exc).split())
        lowered = message.lower()
        if "password" in lowered or "authentication" in lowered or "pg_hba" in lowered:
            summary, todo = (
                "PostgreSQL login failed",
                "Check the user and password in the URL (records.postgres or "
                "PHOTON_RECORDS_URL), and that the server's pg_hba.conf lets that user in.",
            )
        elif "ssl" in lowered or "certificate" in lowered:
            summary, todo = (
                "PostgreSQL TLS failed",
                "Check the URL's TLS options as for any libpq client: sslmode (verify-full "
                "checks the certificate and the host name), sslrootcert (the CA that signed "
                "the server's certificate), and that the server offers TLS at all.",
            )
        elif "does not exist" in lowered:
            summary, todo = (
                "PostgreSQL database missing",
                "Create the database (createdb), or name an existing one in the URL; the "
                "provider creates its tables itself.",
            )
        else:
            summary, todo = (
                "PostgreSQL unreachable",
                "Check that the server is running and that the URL's host and port are right.",
            )
        detail = f"Could not open the records database {self.where}: {message}. {todo}"
        return DiagnosticError(summary, detail + " Nothing was changed.", self._path)

    def _migrate(self) -> None:
        """Bring the tables up to ``SCHEMA_VERSION``: a quick read when they are, else the
        missing migrations in one transaction under the migration lock."""
        with self._mutex:
            try:
                if self._schema_version() == SCHEMA_VERSION:
                    return
                with self._conn.transaction():
                    self._conn.execute(
                        "SELECT pg_advisory_xact_lock(%s, %s)", (KEY, _MIGRATION_LOCK)
                    )
                    self._conn.execute(
                        "CREATE TABLE IF NOT EXISTS photon_schema (version integer PRIMARY KEY, "
                        "applied timestamptz NOT NULL DEFAULT now())"
                    )
                    version = self._schema_version()  # again: another run may have migrated
                    for step in range(version + 1, SCHEMA_VERSION + 1):
                        self._conn.execute(_MIGRATIONS[step])
                        self._conn.execute(
                            "INSERT INTO photon_schema (version) VALUES (%s)", (step,)
                        )
                        log.info("Records schema migrated", **log_context(version=step))
            except psycopg.errors.InsufficientPrivilege as exc:
                raise DiagnosticError(
                    "PostgreSQL permission denied",
                    f"The user of {self.where} may not use the records tables "
                    f"({' '.join(str(exc).split())}). Nothing was changed. Let the provider's "
                    "user own the database (or a schema of its own, chosen with "
                    "options=-csearch_path%3D<schema> in the URL), so it can create and "
                    "migrate its tables.",
                    self._path,
                ) from exc
            except psycopg.OperationalError as exc:
                raise self._lost(exc) from exc

    def _schema_version(self) -> int:
        try:
            row = self._conn.execute("SELECT max(version) FROM photon_schema").fetchone()
        except psycopg.errors.UndefinedTable:  # outside a transaction: nothing to undo
            return 0
        version = int(row[0] or 0) if row else 0
        if version > SCHEMA_VERSION:
            raise self._newer(version)
        return version

    def _newer(self, version: int) -> DiagnosticError:
        return DiagnosticError(
            "Platform records written by a newer provider",
            f"The records database {self.where} has schema version {version}; this provider "
            f"knows versions up to {SCHEMA_VERSION}. Nothing was changed. Use the newer "
            "provider version (every configuration sharing these records must), or restore "
            "the database from the backup taken before the upgrade.",
            self._path,
        )

    def _lost(self, exc: Exception, unsaved: bool = False) -> DiagnosticError:
        lost = (
            " The records this run wrote while it held the platform lock were not saved."
            if unsaved
            else ""
        )
        return DiagnosticError(
            "PostgreSQL connection lost",
            f"The records database {self.where} stopped answering: "
            f"{' '.join(str(exc).split())}.{lost} Any platform lock this run held went with "
            "the connection. Bring the database back and run again: what was done on the "
            "hosts is kept in the Terraform state, and the next apply completes it.",
        )

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """One statement: inside the lock's transaction while it is held, else on its own."""
        with self._mutex:
            try:
                cursor = self._conn.execute(sql, params)
                rows = cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError as exc:
                raise self._lost(exc) from exc
        return rows

    # -- records ------------------------------------------------------------------------

    def get(self, kind: str, name: str) -> Record | None:
        rows = self._run(
            "SELECT body, updated, version FROM photon_records WHERE kind = %s AND name = %s",
            (kind, name),
        )
        if self._held:
            self._seen[(kind, name)] = rows[0][2] if rows else None
        if not rows:
            return None
        record = self._record(kind, name, rows[0][0], rows[0][1])
        if isinstance(record, DiagnosticError):
            raise record
        return record

    def read_all(self, kind: str) -> dict[str, Record | DiagnosticError]:
        """Every record of ``kind`` in one query (for plain reads: ``records/cache.py``)."""
        rows = self._run("SELECT name, body, updated FROM photon_records WHERE kind = %s", (kind,))
        return {name: self._record(kind, name, body, updated) for name, body, updated in rows}

    def _record(
        self, kind: str, name: str, body: object, updated: datetime.datetime
    ) -> Record | DiagnosticError:
        if not isinstance(body, dict):
            return DiagnosticError(
                "Unreadable platform record",
                f"The row ({kind}, {name}) of photon_records in {self.where} is not a JSON "
                "object. It was not changed. Repair it with SQL or restore it from a backup "
                "of the database, then run Terraform again.",
            )
        return shaped(kind, name, body, updated.astimezone(datetime.UTC).isoformat())

    def put(self, kind: str, name: str, body: Record, *, updated: str | None = None) -> None:
        when = (
            datetime.datetime.fromisoformat(updated)
            if updated
            else datetime.datetime.now(datetime.UTC)
        )
        params: tuple[Any, ...] = (kind, name, Jsonb(body, dumps=encode), when)
        expected = self._seen.get((kind, name), _ANY) if self._held else _ANY
        if expected is _ANY:
            sql = _UPSERT + " RETURNING version"
        elif expected is None:  # read as absent in this hold: must still be absent
            sql = _UPSERT.split(" ON CONFLICT")[0] + " ON CONFLICT DO NOTHING RETURNING version"
        else:
            sql = _UPSERT + " WHERE photon_records.version = %s RETURNING version"
            params += (expected,)
        rows = self._run(sql, params)
        if not rows:
            raise DiagnosticError(
                "Platform record changed by another run",
                f"The {kind.rstrip('s')} record {name} in {self.where} was changed by a "
                "run that did not hold the platform lock (an older provider, or a change by "
                "hand) while this run held it; this run did not overwrite it. Run again.",
            )
        if self._held:
            self._seen[(kind, name)] = rows[0][0]

    def remove(self, kind: str, name: str) -> None:
        self._run("DELETE FROM photon_records WHERE kind = %s AND name = %s", (kind, name))
        self._seen.pop((kind, name), None)

    def names(self, kind: str) -> list[str]:
        rows = self._run("SELECT name FROM photon_records WHERE kind = %s ORDER BY name", (kind,))
        return [row[0] for row in rows]

    # -- lock ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, purpose: str, key: str | None = None) -> Iterator[None]:
        """Hold the platform lock: one transaction, committed when the section ends (also
        after a failure inside: what was written then is kept, as on the datastore).

        The lock is a session-level advisory lock, so one acquisition can serve several
        sections: those of this process run one at a time and share it while more are queued
        (``records/lease.py``), each in its own transaction, committed before its resource's
        answer goes back to Terraform. So sections run one at a time whatever their ``key``:
        the connection has one transaction open at a time."""
        with self._lease.section(purpose):
            self._begin()
            try:
                yield
            except BaseException:
                self._commit(quietly=True)
                raise
            self._commit()

    def _acquire(self, purpose: str) -> None:
        """Wait for the lock in short slices (woken at once when it is let go), so that a
        stop or the deadline is noticed between them."""
        deadline = time.monotonic() + self.lock_wait
        me = f"photon {socket.gethostname()}:{os.getpid()} {purpose}"
        while True:
            holder = None
            with self._mutex:
                try:
                    slice_ms = int(1000 * min(_WAIT_SLICE, max(deadline - time.monotonic(), 0)))
                    self._conn.execute(
                        "SELECT set_config('lock_timeout', %s, false)", (f"{max(slice_ms, 1)}ms",)
                    )
                    self._conn.execute(
                        "SELECT pg_advisory_lock(%s, %s), set_config('application_name', "
                        "%s, false), set_config('lock_timeout', '0', false)",
                        (KEY, PLATFORM_LOCK, me[:63]),
                    )
                    log.debug("Took the platform lock", **log_context(purpose=purpose))
                    return
                except psycopg.errors.LockNotAvailable:
                    if time.monotonic() >= deadline:
                        self._conn.execute("SELECT set_config('lock_timeout', '0', false)")
                        holder = self._holder()
                except psycopg.OperationalError as exc:
                    raise self._lost(exc) from exc
            if holder is not None:
                raise DiagnosticError(
                    "Platform records are locked",
                    f"Another run holds the platform lock in {self.where}: {holder}. Retry "
                    "when it has finished; the lock of a killed run goes with its connection.",
                )
            check_stop(self.stop)

    def _let_go(self) -> None:
        """A lost connection took the lock with it: nothing else to do then."""
        with self._mutex, contextlib.suppress(psycopg.OperationalError):
            self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (KEY, PLATFORM_LOCK))

    def _begin(self) -> None:
        with self._mutex:
            try:
                self._conn.execute("BEGIN")
            except psycopg.OperationalError as exc:
                raise self._lost(exc) from exc
            self._held = True
            self._seen.clear()

    def _holder(self) -> str:
        row = self._conn.execute(
            "SELECT a.application_name, a.pid, host(a.client_addr), a.xact_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s "
            "AND l.objid::bigint = %s AND l.objsubid = 2",
            (KEY, PLATFORM_LOCK),
        ).fetchone()
        if row is None:
            return "an unknown run"
        name, pid, client, since = row
        origin = client or "a local socket"
        return f"{name or 'a client'} (server process {pid} from {origin}, since {since})"

    def _commit(self, quietly: bool = False) -> None:
        with self._mutex:
            self._held = False
            try:
                self._conn.execute("COMMIT")
            except psycopg.OperationalError as exc:
                if not quietly:
                    raise self._lost(exc, unsaved=True) from exc
                log.warning("Could not commit the records written under the lock: %s", exc)

    def confirm_lock(self) -> None:
        """The lock lives as long as the connection: a statement that passes proves it."""
        if self._held:
            self._run("SELECT 1")

    def close(self) -> None:
        self._lease.close()
        with self._mutex:
            self._conn.close()
