"""Simulated ESXi hosts for tests: the same scripts/esxi-sim launcher users run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from provider.esxi.endpoint import Endpoint

TOP = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SimHost:
    name: str
    address: str
    user: str
    password: str
    thumbprint: str
    pid: int

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def connection(self) -> dict[str, str]:
        """What a provider's host block (or Endpoint) needs to reach this host."""
        return {
            "name": self.name,
            "address": self.address,
            "user": self.user,
            "password": self.password,
            "thumbprint": self.thumbprint,
        }


class Simulator:
    """N hosts started by scripts/esxi-sim; stopped by closing the launcher's stdin."""

    def __init__(self, hosts: int, *extra: str) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(TOP / "scripts" / "esxi-sim"), "--hosts", str(hosts), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self._proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError(f"esxi-sim failed: {self._proc.stderr.read()}")  # type: ignore[union-attr]
        self.hosts = [SimHost(**h) for h in json.loads(line)["hosts"]]

    def __getitem__(self, name: str) -> SimHost:
        return next(h for h in self.hosts if h.name == name)

    def kill(self, name: str) -> None:
        """Stop one host at once, as a host that fails would."""
        os.kill(self[name].pid, signal.SIGKILL)

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()  # type: ignore[union-attr]
            self._proc.wait(timeout=10)

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def endpoint(host: SimHost, **changes: object) -> Endpoint:
    """The provider's endpoint for ``host``, with ``changes`` (a wrong password...)."""
    return Endpoint(**{**host.connection(), **changes})  # type: ignore[arg-type]
