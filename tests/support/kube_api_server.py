"""A tiny Kubernetes API server for tests: just the calls a node drain makes.

It speaks mutual TLS like a real API server (its own CA; client certificates are
required), keeps nodes and pods in memory and records every request, so tests can
assert on what the drain did and in which order.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import os
import re
import ssl
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PodKey = tuple[str, str]  # (namespace, name)
PDB_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."


class CertAuthority:
    """A throw-away CA that issues server and client certificates (EC P-256: fast to make)."""

    def __init__(self, name: str, existing: tuple[str, str] | None = None) -> None:
        """A new CA called ``name``, or ``existing`` (cert PEM, key PEM): a cluster's own CA,
        so that the provider trusts the server and the server the provider's client."""
        if existing is not None:
            self.cert = x509.load_pem_x509_certificate(existing[0].encode())
            self.key = serialization.load_pem_private_key(existing[1].encode(), None)  # type: ignore[assignment]
        else:
            self.key = ec.generate_private_key(ec.SECP256R1())
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
            self.cert = (
                _builder(subject, subject, self.key.public_key(), self.key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(_ca_usage(), critical=True)
                .sign(self.key, hashes.SHA256())
            )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue_server(self, ip: str) -> tuple[str, str]:
        """A serving certificate for an IP address; returns (cert PEM, key PEM)."""
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))])
        return self._issue(ip, ExtendedKeyUsageOID.SERVER_AUTH, san)

    def issue_client(self, user: str) -> tuple[str, str]:
        """A client certificate; Kubernetes takes the user name from the CN."""
        return self._issue(user, ExtendedKeyUsageOID.CLIENT_AUTH, None)

    def _issue(
        self, cn: str, usage: x509.ObjectIdentifier, san: x509.SubjectAlternativeName | None
    ) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = _builder(subject, self.cert.subject, key.public_key(), self.key.public_key())
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer_key: ec.EllipticCurvePublicKey,
) -> x509.CertificateBuilder:
    """Common fields; key identifiers keep strict verifiers (Python 3.13+) happy."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False
        )
    )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


class KubeApiServer:
    """Context manager running the fake API server on 127.0.0.1 and an ephemeral port, or on
    ``address`` (a cluster's API endpoint on loopback) with the cluster's CA (``ca``)."""

    def __init__(
        self,
        eviction_delay: float = 0.0,
        ca: CertAuthority | None = None,
        address: tuple[str, int] = ("127.0.0.1", 0),
    ) -> None:
        self.eviction_delay = eviction_delay  # seconds an evicted pod stays listed
        self.nodes: dict[str, dict[str, Any]] = {}
        self.pods: dict[PodKey, dict[str, Any]] = {}
        self.blocked: set[PodKey] = set()  # evictions refused as by a PodDisruptionBudget
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._leaving: dict[PodKey, float] = {}  # evicted pod -> monotonic time it goes
        ca = ca or CertAuthority("fake-kubernetes-ca")
        self.ca_pem = ca.cert_pem
        self.client_cert_pem, self.client_key_pem = ca.issue_client("kubernetes-admin")
        self._httpd = _TlsHttpServer(_server_context(ca, address[0]), self, address)
        self.endpoint = f"https://{address[0]}:{self._httpd.server_address[1]}"
        # A short poll interval keeps shutdown (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> KubeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def add_node(self, name: str) -> None:
        """Register a schedulable node."""
        self.nodes[name] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "uid": str(uuid.uuid4())},
            "spec": {"unschedulable": False},
        }

    def add_pod(
        self, ns: str, name: str, node: str, daemonset: bool = False, mirror: bool = False
    ) -> None:
        """Add a running pod bound to `node`, optionally DaemonSet-owned or a mirror pod."""
        meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": str(uuid.uuid4())}
        meta["ownerReferences"] = (
            [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "controller": True}]
            if daemonset
            else [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name}]
        )
        meta["annotations"] = {"kubernetes.io/config.mirror": "static"} if mirror else {}
        self.pods[(ns, name)] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": {"nodeName": node},
            "status": {"phase": "Running"},
        }

    def evictions(self) -> list[str]:
        """The pods ("ns/name") eviction was requested for, in order (with repeats)."""
        pattern = re.compile(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/eviction")
        matches = (pattern.fullmatch(path) for method, path in self.requests if method == "POST")
        return [f"{m[1]}/{m[2]}" for m in matches if m]

    def purge_evicted(self) -> None:
        """Drop evicted pods whose termination time has come (call with the lock held)."""
        now = time.monotonic()
        for key, gone_at in list(self._leaving.items()):
            if gone_at <= now:
                self.pods.pop(key, None)
                del self._leaving[key]

    def evict(self, key: PodKey) -> None:
        """Accept an eviction: the pod terminates, now or after `eviction_delay`."""
        pod = self.pods[key]
        pod["metadata"]["deletionTimestamp"] = datetime.datetime.now(datetime.UTC).isoformat()
        self._leaving.setdefault(key, time.monotonic() + self.eviction_delay)
        self.purge_evicted()


def _server_context(ca: CertAuthority, ip: str) -> ssl.SSLContext:
    """Serve ``ip`` and, like kube-apiserver, require a client certificate from our CA."""
    cert_pem, key_pem = ca.issue_server(ip)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=ca.cert_pem)
    with tempfile.TemporaryDirectory(prefix="kubeapi-server-") as private:
        cert_file, key_file = os.path.join(private, "tls.crt"), os.path.join(private, "tls.key")
        for path, text in ((cert_file, cert_pem), (key_file, key_pem)):
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(text)
        context.load_cert_chain(cert_file, key_file)
    return context


class _TlsHttpServer(http.server.ThreadingHTTPServer):
    """Threaded HTTP server doing the TLS handshake in each request thread, so a slow or
    refused client never stalls the accept loop."""

    def __init__(
        self, context: ssl.SSLContext, fake: KubeApiServer, address: tuple[str, int]
    ) -> None:
        super().__init__(address, _Handler)
        self.context = context
        self.fake = fake

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(_Handler.timeout)  # bound the handshake too
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except OSError:  # handshake refused (e.g. unknown client certificate): drop it
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes the drain's calls to the in-memory state; anything else is 404."""

    server: _TlsHttpServer
    _raw: bytes = b""  # the request body, read before dispatch
    timeout = 5  # a stuck client must not hold a thread forever

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet; `requests` is the log that matters."""

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        fake = self.server.fake
        self._raw = self._read_body()  # before taking the lock: a slow client stalls no one
        with fake.lock:
            fake.requests.append((method, url.path))
            fake.purge_evicted()
            for route_method, pattern, handler in _ROUTES:
                match = pattern.fullmatch(url.path)
                if match and route_method == method:
                    try:
                        status, body = handler(self, fake, url.query, *match.groups())
                    except _BadRequest as exc:
                        status, body = 400, _status(400, "BadRequest", str(exc))
                    break
            else:
                message = "the server could not find the requested resource"
                status, body = 404, _status(404, "NotFound", message)
        self._reply(status, body)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = 0  # a bad length leaves no JSON body, which the route reports as 400
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self) -> dict[str, Any]:
        """The request body as a JSON object, or a 400."""
        try:
            body = json.loads(self._raw) if self._raw else None
        except ValueError as exc:
            raise _BadRequest(f"invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise _BadRequest("body must be a JSON object")
        return body

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _BadRequest(Exception):
    """A malformed request: answered with 400."""


Reply = tuple[int, dict[str, Any]]


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    """A metav1.Status body, the shape Kubernetes uses for errors."""
    status = "Success" if code < 300 else "Failure"
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": status,
        "reason": reason,
        "message": message,
        "code": code,
    }


def _not_found(kind: str, name: str) -> Reply:
    return 404, _status(404, "NotFound", f'{kind} "{name}" not found')


def _patch_node(handler: _Handler, fake: KubeApiServer, query: str, name: str) -> Reply:
    """Merge-patch a node (only the content type kubectl cordon uses)."""
    if handler.headers.get("Content-Type") != "application/merge-patch+json":
        return 415, _status(415, "UnsupportedMediaType", "expected application/merge-patch+json")
    patch = handler._json_body()
    if name not in fake.nodes:
        return _not_found("nodes", name)
    fake.nodes[name] = _merge(fake.nodes[name], patch)
    return 200, fake.nodes[name]


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch: null deletes, objects merge, the rest replaces."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = value
    return result


def _list_pods(handler: _Handler, fake: KubeApiServer, query: str) -> Reply:
    """List pods, filtered by the one field selector a drain uses: spec.nodeName=X."""
    selectors = urllib.parse.parse_qs(query).get("fieldSelector", [])
    node = None
    if selectors:
        field, sep, node = selectors[0].partition("=")
        if field != "spec.nodeName" or not sep:
            raise _BadRequest(f"unsupported field selector {selectors[0]!r}")
    items = [p for p in fake.pods.values() if node is None or p["spec"]["nodeName"] == node]
    return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}


def _evict_pod(handler: _Handler, fake: KubeApiServer, query: str, ns: str, name: str) -> Reply:
    """The Eviction subresource: 429 while a budget blocks, else the pod is deleted."""
    body = handler._json_body()
    meta = body.get("metadata") or {}
    if body.get("kind") != "Eviction" or meta.get("name") != name:
        raise _BadRequest("expected an Eviction naming the pod in the path")
    if meta.get("namespace", ns) != ns:
        raise _BadRequest("the namespace of the Eviction does not match the path")
    if (ns, name) not in fake.pods:
        return _not_found("pods", name)
    if (ns, name) in fake.blocked:
        return 429, _status(429, "TooManyRequests", PDB_MESSAGE)
    fake.evict((ns, name))
    return 201, _status(201, "", "")


def _delete_node(handler: _Handler, fake: KubeApiServer, query: str, name: str) -> Reply:
    if fake.nodes.pop(name, None) is None:
        return _not_found("nodes", name)
    return 200, _status(200, "", "")


_ROUTES: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
    ("PATCH", re.compile(r"/api/v1/nodes/([^/]+)"), _patch_node),
    ("GET", re.compile(r"/api/v1/pods"), _list_pods),
    ("POST", re.compile(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/eviction"), _evict_pod),
    ("DELETE", re.compile(r"/api/v1/nodes/([^/]+)"), _delete_node),
]
