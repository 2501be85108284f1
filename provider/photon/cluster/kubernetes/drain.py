"""Drain a Kubernetes node through its API server, as `kubectl drain` does.

Plain HTTPS with the standard library only, so the provider needs no Kubernetes
client package. The drain cordons the node, evicts its pods through the Eviction
API (which honours PodDisruptionBudgets), waits until they are gone and then
deletes the Node object.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterable
from typing import Any

POLL_INTERVAL = 1.0  # between pod listings while waiting for evicted pods to go
BACKOFF_START = 1.0  # first wait after a PodDisruptionBudget refuses an eviction
BACKOFF_MAX = 5.0  # kubectl itself retries refused evictions every 5 s

__all__ = ["ApiError", "ApiUnreachable", "DrainBlocked", "DrainStopped", "KubeApi", "drain_node"]

PodKey = tuple[str, str]  # (namespace, name)


class ApiUnreachable(Exception):
    """The API server could not be reached or the TLS handshake failed."""

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(f"Kubernetes API {endpoint} unreachable: {reason}")
        self.endpoint = endpoint
        self.reason = reason


class ApiError(Exception):
    """The API server answered with a status the caller does not handle."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Kubernetes API error {status}: {message}")
        self.status = status
        self.message = message


class DrainBlocked(Exception):
    """The drain timed out; `pods` ("namespace/name") are still not evicted or not gone."""

    def __init__(self, node: str, pods: list[str]) -> None:
        super().__init__(f"drain of node {node} timed out; pods remaining: {', '.join(pods)}")
        self.node = node
        self.pods = pods


class DrainStopped(Exception):
    """The drain was asked to stop before it finished."""

    def __init__(self, node: str) -> None:
        super().__init__(f"drain of node {node} stopped")
        self.node = node


class KubeApi:
    """Minimal JSON client for the Kubernetes API, authenticated by a client certificate."""

    def __init__(
        self,
        endpoint: str,
        ca_pem: str,
        client_cert_pem: str,
        client_key_pem: str,
        timeout: float = 10.0,
    ) -> None:
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(f"endpoint must be https://host[:port], got {endpoint!r}")
        self.endpoint = endpoint
        self._host = url.hostname
        self._port = url.port or 443
        self._timeout = timeout
        self._context = _client_context(ca_pem, client_cert_pem, client_key_pem)

    def get(self, path: str) -> dict[str, Any]:
        """GET a resource; any non-2xx status raises ApiError."""
        return self._request("GET", path)[1]

    def patch_merge(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Apply a JSON merge patch (RFC 7386); any non-2xx status raises ApiError."""
        return self._request("PATCH", path, body, "application/merge-patch+json")[1]

    def post(
        self, path: str, body: dict[str, Any], *, allow: Collection[int] = (404, 429)
    ) -> tuple[int, dict[str, Any]]:
        """POST a body; statuses in `allow` are returned for the caller to handle."""
        return self._request("POST", path, body, "application/json", allow)

    def delete(self, path: str, *, allow: Collection[int] = (404,)) -> int:
        """DELETE a resource; statuses in `allow` (404: already gone) are returned."""
        return self._request("DELETE", path, allow=allow)[0]

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
        allow: Collection[int] = (),
    ) -> tuple[int, dict[str, Any]]:
        """Send one request on a fresh connection; callers may share this object across threads."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        conn = http.client.HTTPSConnection(
            self._host, self._port, timeout=self._timeout, context=self._context
        )
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:  # includes ssl.SSLError, timeouts
            raise ApiUnreachable(self.endpoint, str(exc) or type(exc).__name__) from exc
        finally:
            conn.close()
        parsed = _parse_body(status, raw)
        if not 200 <= status < 300 and status not in allow:
            raise ApiError(status, str(parsed.get("message") or http.client.responses.get(status)))
        return status, parsed


def _client_context(ca_pem: str, cert_pem: str, key_pem: str) -> ssl.SSLContext:
    """Verify the chain against our CA but not the hostname: the server certificate names
    the node address, which may differ from the address we connect to."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=ca_pem)
    # load_cert_chain only reads files: keep them private and only as long as it takes.
    with tempfile.TemporaryDirectory(prefix="kubeapi-") as private:  # mkdtemp makes it 0700
        cert_file = _write_private(os.path.join(private, "client.crt"), cert_pem)
        key_file = _write_private(os.path.join(private, "client.key"), key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


def _write_private(path: str, text: str) -> str:
    """Create a file readable by its owner only (0600) and return its path."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def _parse_body(status: int, raw: bytes) -> dict[str, Any]:
    """Decode a JSON object; a success without one is an error, a failure keeps its text."""
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    if 200 <= status < 300:
        raise ApiError(status, "response body is not a JSON object")
    return {"message": raw.decode(errors="replace")[:200]}


class _Deadline:
    """The drain's shared clock: one timeout from the start, and the stop request."""

    def __init__(
        self,
        node: str,
        timeout: float,
        stop: threading.Event | None,
        sleep: Callable[[float], None],
        monotonic: Callable[[], float],
    ) -> None:
        self.node = node
        self._stop = stop
        self._sleep = sleep
        self._monotonic = monotonic
        self._end = monotonic() + timeout

    def check(self, pending: Iterable[PodKey]) -> None:
        """Raise if the drain was stopped or its time is up; `pending` names the culprits."""
        if self._stop is not None and self._stop.is_set():
            raise DrainStopped(self.node)
        if self._monotonic() >= self._end:
            raise DrainBlocked(self.node, sorted(f"{ns}/{name}" for ns, name in pending))

    def pause(self, seconds: float, pending: Iterable[PodKey]) -> None:
        """Wait before the next try, but never past the deadline, so it is reported on time."""
        pending = list(pending)
        self.check(pending)
        self._sleep(min(seconds, max(0.0, self._end - self._monotonic())))
        self.check(pending)


def drain_node(
    api: KubeApi,
    node: str,
    timeout: float,
    *,
    stop: threading.Event | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Cordon `node`, evict its pods respecting disruption budgets, wait until they are
    gone, then delete the Node. Raises DrainBlocked after `timeout` s, DrainStopped on `stop`."""
    deadline = _Deadline(node, timeout, stop, sleep, monotonic)
    if not _cordon(api, node):
        return  # not registered: nothing runs there
    to_evict = {_key(pod): _uid(pod) for pod in _pods_on(api, node) if _needs_eviction(pod)}
    evicted = _evict_all(api, to_evict, deadline)
    _wait_gone(api, node, evicted, deadline)
    api.delete(f"/api/v1/nodes/{_quote(node)}")


def _cordon(api: KubeApi, node: str) -> bool:
    """Mark the node unschedulable so evicted pods are not placed back on it.
    Returns False when the node is not registered."""
    try:
        api.patch_merge(f"/api/v1/nodes/{_quote(node)}", {"spec": {"unschedulable": True}})
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _pods_on(api: KubeApi, node: str) -> list[dict[str, Any]]:
    """List every pod bound to the node, in all namespaces."""
    query = urllib.parse.urlencode({"fieldSelector": f"spec.nodeName={node}"})
    return api.get(f"/api/v1/pods?{query}").get("items") or []


def _needs_eviction(pod: dict[str, Any]) -> bool:
    """DaemonSet pods would be recreated at once and mirror pods cannot be evicted
    (kubectl skips both); terminal pods no longer run anything."""
    meta = pod.get("metadata") or {}
    if any(ref.get("kind") == "DaemonSet" for ref in meta.get("ownerReferences") or []):
        return False
    if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _evict_all(
    api: KubeApi, pods: dict[PodKey, str | None], deadline: _Deadline
) -> dict[PodKey, str | None]:
    """Evict every pod, retrying those a disruption budget refuses with growing pauses.
    Returns the pods whose eviction was accepted (they may still be terminating)."""
    evicted: dict[PodKey, str | None] = {}
    refused = dict(pods)
    backoff = BACKOFF_START
    while True:
        deadline.check(refused)
        for key in sorted(refused):
            outcome = _evict(api, key)
            if outcome != 429:
                uid = refused.pop(key)
                if outcome != 404:  # 404: already gone, nothing to wait for
                    evicted[key] = uid
        if not refused:
            return evicted
        deadline.pause(backoff, refused)
        backoff = min(backoff * 2, BACKOFF_MAX)


def _evict(api: KubeApi, key: PodKey) -> int:
    """Ask for one eviction: 200/201 accepted, 404 pod gone, 429 refused by a budget."""
    ns, name = key
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": ns},
    }
    path = f"/api/v1/namespaces/{_quote(ns)}/pods/{_quote(name)}/eviction"
    return api.post(path, body, allow=(404, 429))[0]


def _wait_gone(
    api: KubeApi, node: str, evicted: dict[PodKey, str | None], deadline: _Deadline
) -> None:
    """Poll until no evicted pod is still on the node. A listed pod with another UID is a
    new pod that took the name, so the evicted one counts as gone (as in kubectl)."""
    while evicted:
        listed = {_key(pod): _uid(pod) for pod in _pods_on(api, node)}
        evicted = {key: uid for key, uid in evicted.items() if key in listed and listed[key] == uid}
        if evicted:
            deadline.pause(POLL_INTERVAL, evicted)


def _key(pod: dict[str, Any]) -> PodKey:
    meta = pod.get("metadata") or {}
    return meta.get("namespace", "default"), meta.get("name", "")


def _uid(pod: dict[str, Any]) -> str | None:
    return (pod.get("metadata") or {}).get("uid")


def _quote(segment: str) -> str:
    """Escape one path segment; Kubernetes names are DNS labels, so this is a safeguard."""
    return urllib.parse.quote(segment, safe="")
