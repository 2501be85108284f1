"""The configured ESXi hosts as the domain sees them: named, lazily logged in, read in parallel.

A session is opened on first use, once per provider process per host. Adapter errors leave
this module as ``DiagnosticError``s that name the host and say what to do.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ..bridge.cty import Path
from ..bridge.diagnostics import DiagnosticError, Diagnostics
from ..bridge.logs import log_context
from ..esxi.endpoint import Endpoint
from ..esxi.errors import EsxiError, WritesForbidden
from .errors import host_error
from .host_conditions import writes_forbidden
from .records.cache import SharedReads
from .records.crypto import RecordKeys
from .records.sealed import SealedRecords

if TYPE_CHECKING:
    from ..esxi.inventory import Inventory
    from ..esxi.license import LicenseInfo
    from ..esxi.live_inventory import LiveInventory
    from ..esxi.session import HostSession
    from .records import RecordStore

__all__ = ["HostsRead", "Platform"]

log = logging.getLogger("provider.photon")
T = TypeVar("T")


@dataclass(frozen=True)
class HostsRead:
    """One read of every configured host: the inventories that came back, and the hosts that
    did not answer (with why). What is counted over ``inventories`` alone is a lower bound."""

    inventories: dict[str, Inventory]
    down: dict[str, DiagnosticError]

    def require_all(self, why: str, path: Path | None = None) -> None:
        """Refuse what needs every host's count while one does not answer."""
        if self.down:
            hosts = ", ".join(sorted(self.down))
            causes = " ".join(e.diagnostic.detail for e in self.down.values())
            raise DiagnosticError(
                f"ESXi host unreachable: {hosts}",
                f"{why} needs every host, and {hosts} did not answer ({causes}) Bring the "
                "host back and run again; restoring lost cluster nodes does not wait for it.",
                path,
            )


class Platform:
    def __init__(
        self,
        endpoints: Iterable[Endpoint],
        records_host: str | None = None,
        records_datastore: str | None = None,
        lock_wait: float | None = None,
        records: RecordStore | None = None,
        stop: threading.Event | None = None,
        record_keys: RecordKeys | None = None,
        sealing: bool = True,
    ) -> None:
        """``records``: a store opened already (PostgreSQL), which waits end on ``stop``;
        without it, the records live on the records host's datastore, opened on first use.
        Record secrets are sealed with ``record_keys`` (records/sealed.py); ``sealing`` False
        hands records over as stored (``records export``)."""
        self.endpoints = {e.name: e for e in endpoints}
        self._stated_records_host = records_host
        self._records_host: str | None = None  # found on first use (records/place.py)
        self._records_datastore = records_datastore
        self.record_keys, self._sealing = record_keys, sealing
        self._warned_unsealed = False
        self._records = self._domain_store(records) if records is not None else None
        self._on_datastore = records is None
        self._lock_wait = lock_wait
        self._sessions: dict[str, HostSession] = {}
        self._licenses: dict[str, LicenseInfo] = {}  # read once per process
        self._licenses_lock = threading.Lock()  # concurrent plans share one read
        self._locks = {name: threading.Lock() for name in self.endpoints}
        self._live: dict[str, LiveInventory] = {}  # one kept inventory per host
        self._live_locks = {name: threading.Lock() for name in self.endpoints}
        self._records_lock = threading.Lock()  # the store is opened once, not per thread
        # The cluster records whose destroy this process planned: a tenant's destroy plan
        # (planned after its clusters') is refused only for clusters not among them.
        self.destroy_planned: set[str] = set()
        # Set when Terraform asks to stop (Ctrl-C): waits end early, no new host work starts.
        self.stop_requested = stop or threading.Event()
        self._linked: set[threading.Event] = set()

    @property
    def host_names(self) -> list[str]:
        return list(self.endpoints)

    @property
    def records_host(self) -> str:
        """The host whose datastore keeps the records: stated, or found on every host once
        per process (records/place.py)."""
        from .records.place import find_records_host

        with self._records_lock:
            if self._records_host is None:
                self._records_host = find_records_host(
                    self, self._stated_records_host, self._records_datastore
                )
            return self._records_host

    @property
    def record_hosts(self) -> list[str]:
        """The hosts that record writes change: the records host, unless records are in
        PostgreSQL."""
        return [self.records_host] if self._on_datastore else []

    def session(self, host: str) -> HostSession:
        if host not in self.endpoints:
            raise DiagnosticError(
                "Unknown host",
                f"Host {host!r} is not configured in the provider; configured hosts: "
                f"{', '.join(self.endpoints)}.",
            )
        with self._locks[host]:
            session = self._sessions.get(host)
            if session is None:
                from ..esxi.session import open_session

                log.debug("Logging in", **log_context(host=host))
                try:
                    session = open_session(self.endpoints[host])
                except EsxiError as exc:
                    raise host_error(exc) from exc
                self._sessions[host] = session
            return session

    def on_hosts(
        self, hosts: Iterable[str], work: Callable[[HostSession], T]
    ) -> dict[str, T | DiagnosticError]:
        """Run ``work`` on each host's session in parallel; a failure is kept per host."""

        def run(host: str) -> T | DiagnosticError:
            if self.stop_requested.is_set():
                return DiagnosticError(
                    f"Stopped before work on {host}",
                    "Terraform asked the provider to stop; nothing was done on this host.",
                )
            try:
                return work(self.session(host))
            except DiagnosticError as exc:
                return exc
            except EsxiError as exc:
                return self.explain(exc)
            except Exception as exc:  # one host's bug must not lose the others' results
                log.debug("Unexpected error on %s", host, exc_info=True)
                return DiagnosticError(
                    f"Internal error in the photon provider on {host}",
                    f"{type(exc).__name__}: {exc}. This is a bug in the provider; run with "
                    "TF_LOG=debug to see the traceback and report it.",
                )

        hosts = list(hosts)
        if len(hosts) <= 1:
            return {host: run(host) for host in hosts}
        with ThreadPoolExecutor(max_workers=min(len(hosts), 16)) as pool:
            return dict(zip(hosts, pool.map(run, hosts), strict=True))

    def inventories(self, hosts: Iterable[str]) -> dict[str, Inventory | DiagnosticError]:
        # Asked now, before logging in: readers waiting for the login share the first read.
        asked = time.monotonic()
        return self.on_hosts(hosts, lambda session: self.inventory(session, asked))

    def inventory(self, session: HostSession, asked: float | None = None) -> Inventory:
        """The host's inventory as of a moment after ``asked`` (default: now): the first read
        per process takes it whole, later ones only what changed since
        (``esxi/live_inventory.py``). When the kept one fails
        (its filter gone: the host restarted, or the simulator dropped the connection), it
        is rebuilt once at once; a failed fresh one is dropped, so the next read starts over."""
        from ..esxi.live_inventory import LiveInventory

        name = session.name
        with self._live_locks[name]:
            live = self._live.get(name)
            kept = live is not None and live.session is session
            if live is None or not kept:
                live = self._live[name] = LiveInventory(session)
        try:
            return live.current(asked)
        except EsxiError:
            with self._live_locks[name]:
                if self._live.get(name) is live:
                    del self._live[name]
            if not kept:
                raise
            log.debug("Rebuilding the kept inventory", **log_context(host=name), exc_info=True)
            return self.inventory(session, asked)

    def kept_inventory(self, session: HostSession) -> Inventory:
        """The inventory as last read by this process, without a call once there is one
        (else the read in flight, or a fresh one): only for what cannot change while the
        session lives (the root pool) or needs nothing newer (which datastore the records are
        on). Writes
        running side by side would otherwise each wait for a fresh read of their own;
        whatever a plan decides on reads ``inventory``."""
        with self._live_locks[session.name]:
            live = self._live.get(session.name)
        kept = live.latest() if live is not None and live.session is session else None
        return kept or self.inventory(session, asked=0.0)  # any read: one in flight will do

    def forget_inventory(self, host: str) -> None:
        """After a write whose change the host may not report: the next read is a whole one.
        (A pool's new limits: vcsim 0.24 reports no change made by ``UpdateConfig``.)"""
        with self._live_locks[host]:
            self._live.pop(host, None)

    def read_hosts(self) -> HostsRead:
        """Every configured host's inventory; a host that does not answer is set apart,
        so that work that can do without it goes on."""
        inventories, down = {}, {}
        for host, inventory in self.inventories(self.host_names).items():
            if isinstance(inventory, DiagnosticError):
                down[host] = inventory
            else:
                inventories[host] = inventory
        return HostsRead(inventories, down)

    def licenses(self, hosts: Iterable[str]) -> dict[str, LicenseInfo]:
        """The license of each of ``hosts`` that answers, read once per host per process."""
        from ..esxi.license import read_license

        hosts = [h for h in dict.fromkeys(hosts) if h in self.endpoints]
        with self._licenses_lock:
            unread = [h for h in hosts if h not in self._licenses]
            for host, license in self.on_hosts(unread, read_license).items():
                if not isinstance(license, DiagnosticError):
                    self._licenses[host] = license
        return {h: self._licenses[h] for h in hosts if h in self._licenses}

    def read_only(self, hosts: Iterable[str]) -> dict[str, LicenseInfo]:
        """The hosts among ``hosts`` whose license forbids API writes. A host that does not
        answer is left to the checks that need it (it is not known to be read-only)."""
        return {h: lic for h, lic in self.licenses(hosts).items() if not lic.api_writable}

    def explain(self, exc: EsxiError) -> DiagnosticError:
        """``host_error``, with the host's license named when a write was refused for it."""
        if isinstance(exc, WritesForbidden):
            from ..esxi.license import read_license

            try:
                license = self._licenses.get(exc.host) or read_license(self.session(exc.host))
            except (EsxiError, DiagnosticError):
                license = None
            return writes_forbidden(exc.host, license)
        return host_error(exc)

    def esxi_calls(self) -> int:
        """API calls made so far through this process's sessions."""
        return sum(s.calls for s in list(self._sessions.values()))

    @contextlib.contextmanager
    def linked_stop(self, event: threading.Event) -> Iterator[None]:
        """While inside, Terraform's stop request also sets ``event`` (an operation's own
        stop, which its timeout may set too)."""
        self._linked.add(event)
        if self.stop_requested.is_set():
            event.set()
        try:
            yield
        finally:
            self._linked.discard(event)

    def request_stop(self) -> None:
        """Terraform asked to stop: no new host work, and every linked wait ends."""
        self.stop_requested.set()
        for event in list(self._linked):
            event.set()

    def records(self) -> RecordStore:
        """The platform's records: the configured store, or the records host's datastore
        (its first by name by default); plain reads shared as ``records/cache.py`` says."""
        if self._records is None:
            host = self.records_host  # found before the lock below: it takes that lock too
            with self._records_lock:
                if self._records is None:
                    self._records = self._domain_store(self._datastore_records(host))
        return self._records

    def warn_unsealed(self, diagnostics: Diagnostics) -> None:
        """Once per run: the cluster secrets this plan writes would be stored in clear."""
        with self._records_lock:
            if self.record_keys is not None or self._warned_unsealed:
                return
            self._warned_unsealed = True
        diagnostics.warning(
            "Cluster secrets are stored unencrypted",
            "The platform records keep each cluster's CA keys and bootstrap token, in a "
            "datastore file or a database row (and in every backup of them), and no records "
            "key is set. Set records { encryption_keys = [...] } or PHOTON_RECORDS_KEY to a key "
            "from `openssl rand -base64 32`; then `terraform-provider-photon records rekey` "
            "seals the records written before (see the records guide).",
        )

    def _domain_store(self, store: RecordStore) -> RecordStore:
        """Plain reads shared (records/cache.py), secrets sealed (records/sealed.py)."""
        shared = SharedReads(store)
        return SealedRecords(shared, self.record_keys) if self._sealing else shared

    def prefetch_record(self, kind: str, name: str) -> None:
        """Start a plain read of a record now, so that its round trip overlaps the host reads
        made before it is used: the later ``records().get`` shares it (``records/cache.py``),
        or reads again if it failed, and reports that failure."""

        def read() -> None:
            with contextlib.suppress(Exception):
                self.records().get(kind, name)

        threading.Thread(target=read, name=f"prefetch {kind}/{name}", daemon=True).start()

    def _datastore_records(self, host: str) -> RecordStore:
        from ..esxi.datastore import DatastoreFiles
        from .records.datastore import DatastoreRecords
        from .records.place import records_datastore

        try:
            session = self.session(host)
        except DiagnosticError as exc:  # say which host this is, and what follows from it
            cause = exc.diagnostic
            raise DiagnosticError(
                f"Platform records unavailable: {cause.summary}",
                f"{cause.detail} It is the records host (records_host, or the host that "
                "holds the photon-platform folder): tenants, quotas and clusters are recorded "
                "there, so nothing can be planned or changed while it is away. Bring it "
                "back; move the records only with `terraform-provider-photon records "
                "export/import`.",
            ) from exc
        try:
            kept = self.kept_inventory(session)  # no round trip of its own
            store = records_datastore(kept, self._records_datastore)
            if store is None or not store.accessible:
                name = store.name if store else self._records_datastore or "(none)"
                raise DiagnosticError(
                    f"Platform records unavailable on {host}",
                    f"The records datastore {name} of host {host} is missing or not "
                    "accessible. Bring it back, or set records_host/records_datastore (for "
                    "every configuration alike).",
                )
            files = DatastoreFiles(session, store.name, kept.datacenter)
            return DatastoreRecords(files, self._lock_wait, self.stop_requested)
        except EsxiError as exc:
            raise host_error(exc) from exc

    def close(self) -> None:
        if self._sessions:  # what this process cost the hosts, for benchmarks and tests
            log.debug("Provider process done", **log_context(esxi_calls=self.esxi_calls()))
        if self._records is not None:
            self._records.close()
        sessions, self._sessions = list(self._sessions.values()), {}
        if sessions:
            with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
                list(pool.map(lambda session: session.close(), sessions))
