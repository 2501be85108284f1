"""A node's readiness report: run on the node by a systemd unit, it tells the host how the node is.

Why: seen from the host, a VM that runs is healthy, even when its guest never finished booting,
its kubelet died or its etcd cannot rejoin. So the node says it itself, in the guest variable
``guestinfo.photon.status`` that the provider reads in the inventory it reads anyway: a JSON
object with ``phase`` (``booting``, ``ready``, ``failing``, ``failed``), ``reason``, ``version``
(the Kubernetes version the node runs) and ``boot`` (the kernel's boot id, new at each boot).

- ``booting`` until cloud-init is done and every check of the node's role has passed once;
- ``ready`` then; ``failing`` once a check has failed for ``--failing-after`` seconds in a row
  (a kubelet restarting is not a failing node), and ready again when the checks pass;
- ``failed`` when cloud-init ended in error (``kubeadm join`` failed, say), with its reason.

Checks (``--check NAME URL [CA [CERT KEY]]``): an HTTP(S) GET answered 200, and for a JSON
answer with ``health`` (etcd's ``/health``) that saying ``"true"``. The variable is written only
on a transition, with ``vmware-rpctool`` (open-vm-tools) or else ``vmtoolsd --cmd``, so a
healthy node costs the host nothing. This file is written to the node by its cloud-config and
must stay standard library only and run on Python 3.8.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

__all__ = ["Reporter", "check_url", "cloud_init_status", "main", "write_status"]

VARIABLE = "guestinfo.photon.status"


class Reporter:
    """The phase from what the node sees; ``step`` gives the report to write on a transition."""

    def __init__(
        self, version: str, boot: str, failing_after: float = 30.0, came_up: bool = False
    ) -> None:
        """``came_up``: this boot was ready before (the report restarted since)."""
        self.version, self.boot, self.failing_after = version, boot, failing_after
        self.came_up = came_up
        self.failing_since: float | None = None
        self.last: tuple[str, str] | None = None

    def step(
        self, cloud_init: tuple[str, str], failures: list[str], now: float
    ) -> dict[str, str] | None:
        phase, reason = self._phase(cloud_init, failures, now)
        if (phase, reason) == self.last:
            return None
        self.last = (phase, reason)
        return {"phase": phase, "reason": reason, "version": self.version, "boot": self.boot}

    def _phase(
        self, cloud_init: tuple[str, str], failures: list[str], now: float
    ) -> tuple[str, str]:
        status, detail = cloud_init
        if status == "error":
            return "failed", "cloud-init: " + (detail or "error")
        if status != "done":
            return "booting", "cloud-init " + status
        if not failures:
            self.came_up, self.failing_since = True, None
            return "ready", ""
        if not self.came_up:
            return "booting", "waiting for " + ", ".join(failures)
        if self.failing_since is None:
            self.failing_since = now
        if now - self.failing_since < self.failing_after:
            return self.last or ("ready", "")  # not yet: a restart is not a failure
        return "failing", f"{', '.join(failures)} unhealthy for {self.failing_after:.0f}s"


def cloud_init_status(
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> tuple[str, str]:
    """``(status, reason)`` from ``cloud-init status --long``: status is ``done`` (also when
    degraded), ``error``, or what it says while it runs; reason, the first error it names
    (else its detail, which older releases give)."""
    try:
        out = run(["cloud-init", "status", "--long"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return "unknown", str(exc)[:200]
    status, section, said = "unknown", "", {"errors": "", "detail": ""}
    for line in out.stdout.splitlines():
        key = re.match(r"([a-z_]+):\s*(.*)", line)
        if key is not None:
            section, value = key.group(1), key.group(2).strip()
            if section == "status" and value:
                status = value.split()[-1]  # "degraded done" is done
            elif section in said and value and not said[section]:
                said[section] = value
        elif section in said and line.strip() and not said[section]:
            said[section] = line.strip().lstrip("- ")
    return status, (said["errors"] or said["detail"])[:200]  # the first error, if it names one


def check_url(url: str, tls: list[str], timeout: float = 3.0) -> bool:
    """``tls``: [CA] or [CA, CERT, KEY]; the name in the certificate is not checked (the
    local address is seldom in it), its chain is. Any failure, of the check's own files
    too, is a failed check: the report goes on."""
    try:
        return _answers(url, tls, timeout)
    except Exception:  # a missing file, a TLS or HTTP error: all a failed check
        return False


def _answers(url: str, tls: list[str], timeout: float) -> bool:
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=tls[0] if tls else None)
        context.check_hostname = False
        if len(tls) == 3:
            context.load_cert_chain(tls[1], tls[2])
    with urllib.request.urlopen(url, timeout=timeout, context=context) as answer:
        body = answer.read(4096)
        if answer.status != 200:
            return False
    try:
        data = json.loads(body)
    except ValueError:
        return True
    return not isinstance(data, dict) or "health" not in data or data["health"] in ("true", True)


def write_status(report: dict[str, str]) -> bool:
    """``info-set`` through vmware-rpctool, or vmtoolsd; True when one of them took it."""
    command = f"info-set {VARIABLE} {json.dumps(report, separators=(',', ':'))}"
    for args in (["vmware-rpctool", command], ["vmtoolsd", "--cmd", command]):
        try:
            if subprocess.run(args, capture_output=True, timeout=30).returncode == 0:
                return True
        except (OSError, subprocess.SubprocessError):
            continue
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="the Kubernetes version it runs")
    parser.add_argument(
        "--check",
        action="append",
        nargs="+",
        default=[],
        metavar="ARG",
        help="NAME URL [CA [CERT KEY]]",
    )
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--failing-after", type=float, default=30.0)
    parser.add_argument("--boot-id", default="/proc/sys/kernel/random/boot_id")
    parser.add_argument("--state-dir", required=True, help="where it notes the boots that came up")
    args = parser.parse_args(argv)
    with open(args.boot_id) as f:
        boot = f.read().strip()
    # Whether this boot came up before: a report restarted mid-boot must not say booting again.
    up = os.path.join(args.state_dir, "up-" + boot)
    reporter = Reporter(args.version, boot, args.failing_after, os.path.exists(up))
    pending = None
    while True:
        failures = [c[0] for c in args.check if not check_url(c[1], c[2:])]
        report = reporter.step(cloud_init_status(), failures, time.monotonic())
        if reporter.came_up and not os.path.exists(up):
            os.makedirs(args.state_dir, exist_ok=True)
            open(up, "w").close()
        pending = report or pending
        if pending is not None and write_status(pending):
            pending = None
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
