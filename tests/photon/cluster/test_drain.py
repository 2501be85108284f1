"""Node drain tests against the in-process fake API server (real TLS, real HTTP)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from provider.photon.cluster.kubernetes.drain import (
    ApiError,
    ApiUnreachable,
    DrainBlocked,
    DrainStopped,
    KubeApi,
    drain_node,
)
from tests.support.kube_api_server import CertAuthority, KubeApiServer

NODE = "worker-1"


@pytest.fixture
def server() -> Iterator[KubeApiServer]:
    with KubeApiServer() as srv:
        srv.add_node(NODE)
        yield srv


@pytest.fixture
def api(server: KubeApiServer) -> KubeApi:
    return client_for(server)


def client_for(server: KubeApiServer, endpoint: str | None = None, **pems: str) -> KubeApi:
    """A client with the server's credentials unless some are overridden."""
    creds = {
        "ca_pem": server.ca_pem,
        "client_cert_pem": server.client_cert_pem,
        "client_key_pem": server.client_key_pem,
        **pems,
    }
    return KubeApi(endpoint or server.endpoint, timeout=2.0, **creds)


class FakeClock:
    """Injected time: sleeping advances the clock at once and may run a side effect."""

    def __init__(self, on_sleep: Callable[[], None] = lambda: None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self._on_sleep()


def later(seconds: float, action: Callable[[], None]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_cordons_first_skips_daemonset_and_mirror_pods_and_deletes_node_last(
    server: KubeApiServer, api: KubeApi
) -> None:
    server.eviction_delay = 0.3  # evicted pods linger, so the drain must wait for them
    server.add_pod("default", "web", NODE)
    server.add_pod("shop", "api", NODE)
    server.add_pod("kube-system", "kube-proxy-x", NODE, daemonset=True)
    server.add_pod("kube-system", f"etcd-{NODE}", NODE, mirror=True)
    server.add_pod("default", "job-done", NODE)
    server.pods[("default", "job-done")]["status"]["phase"] = "Succeeded"
    server.add_node("worker-2")
    server.add_pod("default", "elsewhere", "worker-2")

    drain_node(api, NODE, timeout=5)

    assert server.requests[0] == ("PATCH", f"/api/v1/nodes/{NODE}")
    assert sorted(server.evictions()) == ["default/web", "shop/api"]
    assert server.requests[-1] == ("DELETE", f"/api/v1/nodes/{NODE}")
    pod_lists = [r for r in server.requests if r == ("GET", "/api/v1/pods")]
    assert len(pod_lists) >= 2, "the drain did not wait for the lingering pods"
    assert NODE not in server.nodes
    assert set(server.pods) == {
        ("kube-system", "kube-proxy-x"),
        ("kube-system", f"etcd-{NODE}"),
        ("default", "job-done"),
        ("default", "elsewhere"),
    }
    assert server.nodes["worker-2"]["spec"]["unschedulable"] is False


def test_budget_released_mid_drain_lets_drain_complete(server: KubeApiServer, api: KubeApi) -> None:
    server.add_pod("default", "db-0", NODE)
    server.add_pod("default", "web", NODE)
    server.blocked.add(("default", "db-0"))
    timer = later(0.5, lambda: server.blocked.discard(("default", "db-0")))

    started = time.monotonic()
    drain_node(api, NODE, timeout=4)
    timer.join()

    assert time.monotonic() - started < 3
    assert server.evictions().count("default/db-0") >= 2  # refused once, then accepted
    assert server.pods == {}
    assert NODE not in server.nodes


def test_budget_never_released_raises_drain_blocked_after_timeout(
    server: KubeApiServer, api: KubeApi
) -> None:
    server.add_pod("default", "db-0", NODE)
    server.add_pod("default", "web", NODE)
    server.blocked.add(("default", "db-0"))

    started = time.monotonic()
    with pytest.raises(DrainBlocked) as caught:
        drain_node(api, NODE, timeout=2)
    elapsed = time.monotonic() - started

    assert 2 <= elapsed < 3.5
    assert caught.value.node == NODE
    assert caught.value.pods == ["default/db-0"]
    assert server.evictions().count("default/db-0") >= 2  # it kept retrying
    assert list(server.pods) == [("default", "db-0")]
    assert server.nodes[NODE]["spec"]["unschedulable"] is True  # cordoned, not deleted
    assert ("DELETE", f"/api/v1/nodes/{NODE}") not in server.requests


def test_refused_evictions_back_off_doubling_up_to_five_seconds(
    server: KubeApiServer, api: KubeApi
) -> None:
    server.add_pod("default", "db-0", NODE)
    server.blocked.add(("default", "db-0"))
    clock = FakeClock()

    with pytest.raises(DrainBlocked):
        drain_node(api, NODE, timeout=20, sleep=clock.sleep, monotonic=clock.monotonic)

    # The last pause is cut short so the deadline is reported on time.
    assert clock.sleeps == [1, 2, 4, 5, 5, 3]
    assert server.evictions().count("default/db-0") == 6


def test_stop_event_ends_the_drain(server: KubeApiServer, api: KubeApi) -> None:
    server.add_pod("default", "db-0", NODE)
    server.blocked.add(("default", "db-0"))
    stop = threading.Event()
    clock = FakeClock(on_sleep=stop.set)

    with pytest.raises(DrainStopped) as caught:
        drain_node(api, NODE, 60, stop=stop, sleep=clock.sleep, monotonic=clock.monotonic)

    assert caught.value.node == NODE
    assert clock.sleeps == [1]


def test_pod_deleted_by_someone_else_counts_as_evicted(server: KubeApiServer, api: KubeApi) -> None:
    server.add_pod("default", "db-0", NODE)
    server.blocked.add(("default", "db-0"))

    def delete_pod() -> None:
        with server.lock:
            del server.pods[("default", "db-0")]

    clock = FakeClock(on_sleep=delete_pod)
    drain_node(api, NODE, 60, sleep=clock.sleep, monotonic=clock.monotonic)

    assert server.evictions() == ["default/db-0", "default/db-0"]  # 429, then 404
    assert NODE not in server.nodes


def test_pod_recreated_under_the_same_name_counts_as_gone(
    server: KubeApiServer, api: KubeApi
) -> None:
    server.eviction_delay = 60  # the evicted pod would linger for the whole test
    server.add_pod("default", "web", NODE)

    def recreate_pod() -> None:
        with server.lock:
            server.pods[("default", "web")]["metadata"]["uid"] = "a-new-pod"

    clock = FakeClock(on_sleep=recreate_pod)
    drain_node(api, NODE, 60, sleep=clock.sleep, monotonic=clock.monotonic)

    assert clock.sleeps == [1]
    assert NODE not in server.nodes


def test_unregistered_node_returns_without_error(server: KubeApiServer, api: KubeApi) -> None:
    server.add_pod("default", "web", "ghost")

    drain_node(api, "ghost", timeout=2)

    assert server.requests == [("PATCH", "/api/v1/nodes/ghost")]
    assert ("default", "web") in server.pods


def test_endpoint_nobody_listens_on_raises_api_unreachable(server: KubeApiServer) -> None:
    with socket.socket() as probe:  # bind then release: a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        endpoint = f"https://127.0.0.1:{probe.getsockname()[1]}"

    with pytest.raises(ApiUnreachable) as caught:
        drain_node(client_for(server, endpoint), NODE, timeout=2)

    assert caught.value.endpoint == endpoint
    assert endpoint in str(caught.value)


def test_client_certificate_from_another_ca_is_refused_in_the_handshake(
    server: KubeApiServer,
) -> None:
    cert, key = CertAuthority("rogue-ca").issue_client("kubernetes-admin")
    api = client_for(server, client_cert_pem=cert, client_key_pem=key)

    # TLS 1.3: the server's alert arrives when the client reads, so no HTTP status exists.
    with pytest.raises(ApiUnreachable):
        drain_node(api, NODE, timeout=2)

    assert server.requests == []
    assert server.nodes[NODE]["spec"]["unschedulable"] is False


def test_server_certificate_from_another_ca_is_refused(server: KubeApiServer) -> None:
    api = client_for(server, ca_pem=CertAuthority("rogue-ca").cert_pem)

    with pytest.raises(ApiUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        api.get("/api/v1/pods")

    assert server.requests == []


def test_hostname_is_not_checked_against_server_certificate(server: KubeApiServer) -> None:
    # The certificate names only 127.0.0.1; "localhost" must still be accepted.
    port = server.endpoint.rsplit(":", 1)[1]
    api = client_for(server, f"https://localhost:{port}")

    assert api.get("/api/v1/pods")["kind"] == "PodList"


def test_api_error_carries_the_status_message(api: KubeApi) -> None:
    with pytest.raises(ApiError) as caught:
        api.get("/apis/unknown")
    assert caught.value.status == 404
    assert caught.value.message == "the server could not find the requested resource"

    with pytest.raises(ApiError) as caught:
        api.post("/api/v1/namespaces/default/pods/web/eviction", {"kind": "Pod"})
    assert caught.value.status == 400
