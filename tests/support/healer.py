"""photon-heal as a subprocess, as a service manager would run it: its JSON log lines read back
from a file, waited on with a deadline."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .cluster import cluster_hcl, marked_vms
from .simulator import TOP, SimHost

HEAL = TOP / ".venv" / "bin" / "photon-heal"


def write_watch_file(path: Path, hosts: Iterable[SimHost], mode: int = 0o600) -> Path:
    """The hosts as a watch file; created with ``mode`` from the start (no readable window)."""
    document = {
        "hosts": [
            {
                "name": h.name,
                "address": h.address,
                "user": h.user,
                "password": h.password,
                "thumbprint": h.thumbprint,
            }
            for h in hosts
        ]
    }
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(document, handle)
    os.chmod(path, mode)  # the umask may have taken bits away
    return path


def run_heal(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(HEAL), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


class HealerProcess:
    """A running ``photon-heal DIR --watch FILE ...``; ``stop`` sends SIGTERM and waits."""

    def __init__(self, workdir: Path, watch: Path, env: dict[str, str], *extra: str) -> None:
        self.log_path = workdir.parent / f"heal-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [str(HEAL), str(workdir), "--watch", str(watch), "--debounce", "300ms", *extra],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def lines(self) -> list[dict[str, Any]]:
        found = []
        for text in self.log_path.read_text().splitlines():
            try:
                found.append(json.loads(text))
            except json.JSONDecodeError:
                found.append({"event": "not-json", "text": text})
        return found

    def wait_for(
        self, event: str, where: Callable[[dict[str, Any]], bool] = lambda _: True, timeout=60.0
    ) -> dict[str, Any]:
        """The first log line of that event (matching ``where``), or fail with the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                if line.get("event") == event and where(line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        log = self.log_path.read_text()
        raise AssertionError(f"no {event} line within {timeout}s; log:\n{log}")

    def count(self, event: str, where: Callable[[dict[str, Any]], bool] = lambda _: True) -> int:
        return sum(1 for line in self.lines() if line.get("event") == event and where(line))

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code


def heal_config(workers: int = 4, grace: str = "4s", max_unhealthy: str = "100%") -> str:
    """Tenant and a cluster for healing tests: one external etcd member and one master (so
    the master can be restored: its cluster state lives in etcd), and a health policy that
    restores lost nodes at once and powered-off ones after a short grace period."""
    health = f"""  health {{
    grace_period  = "{grace}"
    max_unhealthy = "{max_unhealthy}"
  }}"""
    tenant = 'resource "photon_tenant" "t" {\n  name = "team-h"\n}\n'
    return tenant + cluster_hcl(
        ["10.0.0.11"], ["10.0.0.21"], workers, name="heal", netmask="24", gateway=None, raw=health
    )


def node_vms(hosts: Iterable[SimHost], cluster: str = "heal") -> dict[str, str]:
    """Node name -> VM id, for every VM on the hosts that carries the cluster's marks."""
    return {node: moid for node, (_, moid, _) in marked_vms(hosts, cluster).items()}
