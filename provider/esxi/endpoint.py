"""Where and how to reach one ESXi host. No pyVmomi here: the domain builds these cheaply."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Endpoint", "normalize_thumbprint"]


def normalize_thumbprint(thumbprint: str) -> str:
    """``AA:BB:...`` or ``aabb...`` -> ``aabb...``; ESXi shows them both ways."""
    return thumbprint.replace(":", "").replace(" ", "").strip().lower()


@dataclass(frozen=True)
class Endpoint:
    name: str
    address: str
    user: str
    password: str = field(repr=False)
    thumbprint: str | None = None
    insecure: bool = False

    @property
    def host_port(self) -> tuple[str, int]:
        """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; the port defaults to 443."""
        address = self.address.strip()
        if address.startswith("["):
            host, _, rest = address[1:].partition("]")
            return host, int(rest[1:]) if rest.startswith(":") else 443
        host, sep, port = address.rpartition(":")
        if sep and port.isdigit() and ":" not in host:
            return host, int(port)
        return address, 443
