"""Prometheus metrics, served by prometheus-client on a loopback address only.

A private registry: the scrape shows the healer's own numbers (and the process collector's),
not whatever else a library registers globally.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.process_collector import ProcessCollector

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

__all__ = ["Metrics", "loopback_address"]


def loopback_address(text: str) -> tuple[str, int]:
    """``127.0.0.1:9464`` or ``[::1]:9464`` -> (host, port); anything not loopback is refused,
    since the metrics name clusters and hosts and have no authentication."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        if not sep or not ipaddress.ip_address(host).is_loopback:
            raise ValueError
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"--metrics-address {text!r} must be a loopback address and port, "
            "like 127.0.0.1:9464 or [::1]:9464"
        ) from None
    return host, number


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.restored = Counter(
            "photon_heal_nodes_restored",
            "Nodes restored by an applied plan, by role and action (replace, power_on).",
            ["role", "action"],
            registry=self.registry,
        )
        self.refused = Counter(
            "photon_heal_plans_refused",
            "Plans that held more than node restorations and were not applied.",
            registry=self.registry,
        )
        self.cycles = Counter(
            "photon_heal_cycles",
            "Guarded cycles run, by outcome (clean, restored, refused, error).",
            ["outcome"],
            registry=self.registry,
        )
        self.last_success = Gauge(
            "photon_heal_last_success_timestamp_seconds",
            "Unix time of the last cycle that ended clean or restored.",
            registry=self.registry,
        )
        self.detection_to_restore = Histogram(
            "photon_heal_detection_to_restore_seconds",
            "Seconds from the healer seeing a node lost to the apply that restored it.",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=self.registry,
        )
        self.events = Counter(
            "photon_heal_events",
            "Host and VM events seen by the watch, by kind.",
            ["kind"],
            registry=self.registry,
        )

    def serve(self, address: str) -> WSGIServer:
        """Serve the metrics on a loopback address, in a daemon thread; the server is
        returned so that whoever started it can shut it down."""
        host, port = loopback_address(address)
        server, _ = start_http_server(port, addr=host, registry=self.registry)
        return server
