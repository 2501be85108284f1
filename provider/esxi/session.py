"""Opening a session to one ESXi host, with its TLS certificate pinned by SHA-256 thumbprint.

pyVmomi's own ``thumbprint`` argument is only consulted when ordinary certificate checks
fail, and is skipped entirely for loopback addresses; so the pin is enforced here: the
certificate the host presents is compared with the thumbprint, then trusted as the only
anchor of the connection pyVmomi makes.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import ssl
import threading
from typing import Any

from pyVmomi import SoapStubAdapter, vim
from pyVmomi.VmomiSupport import GetServiceVersions, versionIdMap

from .endpoint import Endpoint, normalize_thumbprint
from .errors import AuthenticationFailed, CertificateMismatch, EsxiError, HostUnreachable

__all__ = ["HostSession", "open_session"]

_CONNECT_TIMEOUT = 15.0
_CALL_TIMEOUT = 60.0
PARALLEL_CALLS = 16  # calls in flight per host, and as many connections kept for them
# The version of the first calls, before the host has said its own: vSphere 6.0, which every
# host this provider supports still serves.
_FIRST_VERSION = "vim.version.version10"


def _pinned_context(endpoint: Endpoint) -> ssl.SSLContext:
    host, port = endpoint.host_port
    if endpoint.insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        pem = ssl.get_server_certificate((host, port), timeout=_CONNECT_TIMEOUT)
    except (OSError, ssl.SSLError) as exc:
        raise HostUnreachable(endpoint.name, f"cannot reach {endpoint.address}: {exc}") from exc
    seen = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    if endpoint.thumbprint is None:
        raise CertificateMismatch(
            endpoint.name,
            f"no thumbprint configured; {endpoint.address} presents a certificate with SHA-256 "
            f"thumbprint {_colon(seen)}",
        )
    if normalize_thumbprint(endpoint.thumbprint) != seen:
        raise CertificateMismatch(
            endpoint.name,
            f"{endpoint.address} presents a certificate with SHA-256 thumbprint {_colon(seen)}, "
            f"not the configured {endpoint.thumbprint}",
        )
    context = ssl.create_default_context(cadata=pem)
    context.check_hostname = False  # the pin identifies the host, not its name
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a CA-signed leaf can be the anchor
    return context


def _colon(hex_digest: str) -> str:
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


class HostSession:
    """A logged-in session; the service instance is private to the adapter."""

    def __init__(
        self,
        endpoint: Endpoint,
        service_instance: vim.ServiceInstance,
        content: vim.ServiceInstanceContent,
        context: ssl.SSLContext,
    ) -> None:
        self.endpoint = endpoint
        self.si = service_instance
        self.content = content
        self.ssl_context = context  # the pinned context, for the datastore file transfers
        self.calls = 0  # round trips made through this session, for logs and benchmarks
        self._calls_lock = threading.Lock()
        self._count_calls()

    def count_call(self) -> None:
        """One more round trip to the host (SOAP calls count themselves; file transfers call
        this)."""
        with self._calls_lock:
            self.calls += 1

    def _count_calls(self) -> None:
        stub = self.si._stub
        for name in ("InvokeMethod", "InvokeAccessor"):
            original = getattr(stub, name)

            def counted(*args: object, _original: Any = original, **kwargs: object) -> Any:
                self.count_call()
                return _original(*args, **kwargs)

            setattr(stub, name, counted)

    @property
    def cookie(self) -> str:
        """``name=value`` of the session cookie, for HTTP requests outside SOAP."""
        return str(self.si._stub.cookie).split(";")[0].strip()

    @property
    def name(self) -> str:
        return self.endpoint.name

    def close(self) -> None:
        """Log out with the content kept (``Disconnect`` fetches it again: a round trip)."""
        with contextlib.suppress(Exception):  # best effort: the host may be gone
            self.content.sessionManager.Logout()
        with contextlib.suppress(Exception):
            self.si._stub.DropConnections()


def open_session(endpoint: Endpoint) -> HostSession:
    """Two round trips: the service content, then the login. The API version is taken from
    the content's answer, as rbvmomi does, instead of asking for the host's version list
    first as ``SmartConnect`` does (a round trip of its own). The two cannot travel side by
    side: ESXi answers a first call without a session cookie with a new session of its own,
    so the content's answer could replace the logged-in session's cookie."""
    context = _pinned_context(endpoint)
    host, port = endpoint.host_port
    try:
        stub = SoapStubAdapter(
            host=host,
            port=port,
            version=_FIRST_VERSION,
            sslContext=context,
            poolSize=PARALLEL_CALLS,  # more calls at once than kept connections: a TLS set-up each
            httpConnectionTimeout=_CALL_TIMEOUT,  # also bounds each call: a hung host fails
        )
        si = vim.ServiceInstance("ServiceInstance", stub)
        content = si.RetrieveContent()
        content.sessionManager.Login(endpoint.user, endpoint.password, None)
        stub.ComputeVersionInfo(_api_version(content.about.apiVersion))
    except vim.fault.InvalidLogin as exc:
        raise AuthenticationFailed(
            endpoint.name, f"{endpoint.address} refused user {endpoint.user!r}: {exc.msg}"
        ) from exc
    except ssl.SSLError as exc:
        raise CertificateMismatch(
            endpoint.name, f"TLS to {endpoint.address} failed: {exc}"
        ) from exc
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        raise HostUnreachable(endpoint.name, f"cannot reach {endpoint.address}: {exc}") from exc
    except vim.fault.VimFault as exc:
        raise EsxiError(endpoint.name, f"login failed: {exc.msg}") from exc
    return HostSession(endpoint, si, content, context)


def _api_version(server: str) -> str:
    """pyVmomi's newest API version that the host's ``about.apiVersion`` includes."""

    def number(version: str) -> tuple[int, ...]:
        parts = tuple(int(p) for p in version.split("."))
        return parts + (0,) * (4 - len(parts))

    try:
        ceiling = number(server)
    except ValueError:
        return _FIRST_VERSION
    for version in GetServiceVersions("vim25"):  # newest first
        with contextlib.suppress(ValueError):
            if number(versionIdMap[version]) <= ceiling:
                return version
    return _FIRST_VERSION
