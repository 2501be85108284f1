"""``photon-heal DIR``: the command line, its checks, and the start of the service.

Bad input fails before anything runs, with one line ``photon-heal: error: ...`` and exit 2
(as argparse does for its own usage errors), so a service manager's log says what to fix.
``--once`` exits 0 (nothing to do, or restored), 3 (refused) or 1 (error).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .hosts import BadInput, check_workdir, endpoints_from_environment, read_watch_file

if TYPE_CHECKING:
    from ..esxi.endpoint import Endpoint
    from .service import Healer

__all__ = ["main", "parse_seconds"]

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?")
_MS = re.compile(r"(\d+(?:\.\d+)?)ms")
EXIT_REFUSED = 3


def parse_seconds(text: str) -> float:
    """``5m``, ``2s``, ``1h30m``, ``500ms``, ``0.5s`` or a bare number of seconds."""
    text = text.strip()
    if ms := _MS.fullmatch(text):
        return float(ms.group(1)) / 1000
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.fullmatch(text)
    if not text or not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 5m, 2s or 500ms")
    hours, minutes, seconds = (float(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photon-heal",
        description="Restore lost cluster nodes through terraform apply of plans that hold "
        "nothing but node restorations.",
    )
    parser.add_argument("dir", type=Path, help="a terraform init-ed working directory")
    parser.add_argument("--watch", type=Path, metavar="FILE", help="hosts to watch (JSON, 0600)")
    parser.add_argument("--interval", type=parse_seconds, default=300.0, help="default 5m")
    parser.add_argument("--debounce", type=parse_seconds, default=2.0, help="default 2s")
    parser.add_argument("--once", action="store_true", help="one guarded cycle, then exit")
    parser.add_argument("--metrics-address", metavar="HOST:PORT", help="e.g. 127.0.0.1:9464")
    parser.add_argument("--var-file", action="append", default=[], metavar="F")
    parser.add_argument("--lock-timeout", type=parse_seconds, default=60.0, help="default 60s")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        sys.exit(_run(args))
    except BadInput as exc:
        print(f"photon-heal: error: {exc}", file=sys.stderr)
        sys.exit(2)


def _run(args: argparse.Namespace) -> int:
    from .cycle import CLEAN, REFUSED, RESTORED, run_cycle
    from .metrics import Metrics, loopback_address
    from .service import Healer, Timing, log_applying, report_cycle
    from .terraform import Terraform

    workdir = args.dir.resolve()
    check_workdir(workdir)
    if shutil.which("terraform") is None:
        raise BadInput("terraform is not on PATH")
    for var_file in args.var_file:
        if not (workdir / var_file).is_file():
            raise BadInput(f"--var-file {var_file} is not a file (relative to {workdir})")
    if args.metrics_address:
        try:
            loopback_address(args.metrics_address)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    endpoints = _endpoints(args)
    tf = Terraform(workdir, args.lock_timeout, args.var_file)
    metrics = Metrics()
    if args.once:
        for signum in (signal.SIGTERM, signal.SIGINT):  # one SIGINT to terraform, then wait
            signal.signal(signum, lambda *_: tf.interrupt())
        result = run_cycle(tf, on_apply=log_applying)
        report_cycle(metrics, "once", result)
        return {CLEAN: 0, RESTORED: 0, REFUSED: EXIT_REFUSED}.get(result.outcome, 1)
    healer = Healer(tf, metrics, Timing(args.interval, args.debounce))
    healer.install_signals()
    _start_watchers(endpoints, healer)
    if args.metrics_address:
        metrics.serve(args.metrics_address)
    return healer.run()


def _endpoints(args: argparse.Namespace) -> list[Endpoint]:
    if args.watch is not None:
        return read_watch_file(args.watch, os.environ)
    if args.once and not os.environ.get("PHOTON_HOST"):
        return []  # --once watches nothing; the provider reads its own configuration
    return endpoints_from_environment(os.environ)


def _start_watchers(endpoints: list[Endpoint], healer: Healer) -> None:
    """Log in to every host first: a wrong password, thumbprint or host name stops the
    healer at once. A host that does not answer now is watched anyway (it is retried):
    a healer that cannot start during an outage would be no healer."""
    from ..esxi.errors import AuthenticationFailed, CertificateMismatch, HostUnreachable
    from ..esxi.session import open_session
    from .logs import log
    from .watcher import HostWatcher

    watchers = []
    for endpoint in endpoints:
        try:
            session = open_session(endpoint)
        except (AuthenticationFailed, CertificateMismatch) as exc:
            raise BadInput(str(exc)) from None
        except HostUnreachable as exc:
            if isinstance(exc.__cause__, socket.gaierror):
                raise BadInput(f"{endpoint.name}: unknown host {endpoint.address}") from None
            log("host_unreachable", "warning", host=endpoint.name, detail=exc.message)
            session = None
        watchers.append(HostWatcher(endpoint, healer.events, session))
    for watcher in watchers:
        watcher.start()
    log("watching", hosts=[e.name for e in endpoints])
