"""The go-plugin side of a provider process: handshake, sockets, lifecycle.

Terraform starts the provider with a magic cookie and its offered protocol versions in the
environment, reads one handshake line from stdout and connects to the announced socket. The
process then lives until Terraform calls ``GRPCController.Shutdown`` (or a signal arrives).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from .api import Provider
    from .certs import PendingIdentity
    from .tls_front import TlsFront

__all__ = [
    "MAGIC_COOKIE_KEY",
    "MAGIC_COOKIE_VALUE",
    "HandshakeError",
    "negotiate_protocol",
    "serve",
    "warm_up",
]

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PROTOCOL_VERSION = 6
_CORE_PROTOCOL_VERSION = 1


class HandshakeError(Exception):
    """The process was not started the way Terraform starts plugins."""


def negotiate_protocol(environ: dict[str, str] | os._Environ[str]) -> int:
    if environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        raise HandshakeError(
            "This binary is a plugin for Terraform and is not meant to be run directly.\n"
            "Put it in a Terraform plugin folder and run `terraform init`, or start it with\n"
            "--debug to serve Terraform through TF_REATTACH_PROVIDERS."
        )
    offered = [v.strip() for v in environ.get("PLUGIN_PROTOCOL_VERSIONS", "").split(",")]
    if str(PROTOCOL_VERSION) not in offered:
        raise HandshakeError(
            f"This provider speaks Terraform plugin protocol {PROTOCOL_VERSION} only; this "
            f"Terraform offers {', '.join(v for v in offered if v) or 'none'}. "
            "Use Terraform 1.0 or newer."
        )
    if not environ.get("PLUGIN_CLIENT_CERT"):
        raise HandshakeError(
            "Terraform sent no client certificate (PLUGIN_CLIENT_CERT); "
            "this provider requires Terraform 0.15 or newer, which always sends one."
        )
    return PROTOCOL_VERSION


class _Lifecycle:
    """Everything started for one serve(), stopped in reverse order exactly once."""

    def __init__(self, provider_name: str, *, interruptible: bool) -> None:
        # A pipe, not a threading.Event: Event.set() from a signal handler deadlocks when the
        # signal lands while the main thread holds the Event's lock inside wait().
        self._stop_r, self._stop_w = os.pipe()
        os.set_blocking(self._stop_w, False)
        self.folder = tempfile.mkdtemp(prefix=f"tf-{provider_name}-")  # mkdtemp makes it 0700
        self._stoppers: list[Callable[[], None]] = []

        # From the first moment: a signal during start-up must also end in a clean exit.
        signal.signal(signal.SIGTERM, lambda _signum, _frame: self.request_stop())
        # A terminal's Ctrl-C reaches the whole process group, Terraform's plugins too. Served
        # for Terraform, the provider ignores it, as Go providers do: Terraform stops it
        # through StopProvider, and the work in hand ends at a safe point with its new state
        # (dying mid-apply would lose what was made). Started by hand (--debug), Ctrl-C stops.
        interrupt = (lambda _signum, _frame: self.request_stop()) if interruptible else None
        signal.signal(signal.SIGINT, interrupt or signal.SIG_IGN)

    def request_stop(self) -> None:
        """From a signal handler or any thread (Shutdown): takes no lock."""
        with contextlib.suppress(BlockingIOError):  # full: a stop is pending already
            os.write(self._stop_w, b"x")

    def on_stop(self, stopper: Callable[[], None]) -> None:
        self._stoppers.append(stopper)

    def wait(self) -> None:
        os.read(self._stop_r, 1)

    def close(self) -> None:
        for stopper in reversed(self._stoppers):
            stopper()
        shutil.rmtree(self.folder, ignore_errors=True)
        # The stop pipe stays open: a late signal must not write into a reused descriptor.


def serve(
    provider_factory: Callable[[], Provider],
    *,
    provider_address: str,
    debug: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Serve one provider until Terraform (or SIGTERM; SIGINT only with ``debug``) stops it;
    returns the exit code.

    ``provider_address`` names the provider (``registry.terraform.io/NAMESPACE/NAME``): its
    last part, the name Terraform knows it by, names its log lines and its private folder."""
    gc.disable()  # start-up allocates much and frees next to nothing: collecting is lost time
    from .logs import configure_logging

    provider_name = provider_address.rsplit("/", 1)[-1]
    configure_logging(provider_name)
    if not debug:
        try:
            negotiate_protocol(os.environ)
        except HandshakeError as exc:
            print(exc, file=sys.stderr)
            return 1

    life = _Lifecycle(provider_name, interruptible=debug)
    try:
        socket_path = os.path.join(life.folder, "plugin.sock")
        if debug:
            _start_grpc(provider_factory, life, f"unix:{socket_path}", shutdown_exits=False)
            reattach = {
                provider_address: {
                    "Protocol": "grpc",
                    "ProtocolVersion": PROTOCOL_VERSION,
                    "Pid": os.getpid(),
                    "Test": True,
                    "Addr": {"Network": "unix", "String": socket_path},
                }
            }
            print("Provider started. To attach Terraform to it, run in your shell:\n", file=out)
            print(f"    export TF_REATTACH_PROVIDERS='{json.dumps(reattach)}'\n", file=out)
            print("Stop it with Ctrl-C.", file=out, flush=True)
        else:
            from .certs import PendingIdentity

            identity = PendingIdentity(life.folder)  # made on the other core meanwhile
            front = _start_tls_front(life, socket_path, identity)
            backend = os.path.join(life.folder, "grpc.sock")
            _start_grpc(provider_factory, life, f"unix:{backend}", shutdown_exits=True)
            front.backend_ready()
        _started_up()
        life.wait()
    finally:
        life.close()
    return 0


def warm_up() -> None:
    """For a warm-start server (``warm_server``), before it forks a process per start:
    import what serve() imports, and let both TLS libraries (Python's ``ssl`` for the front,
    ``cryptography`` for the identity) load their algorithms once. Creates no gRPC object and
    no thread: gRPC cannot be forked once it has one."""
    from . import certs, grpc_service, logs, tls_front  # noqa: F401

    identity = certs.make_server_identity()
    tls_front.warm_up(identity.cert_pem.decode())


def _started_up() -> None:
    """What start-up made (modules, schemas) lives as long as the process: keep it out of the
    collector's way, then collect again what the RPCs leave behind."""
    gc.freeze()
    gc.enable()


def _start_tls_front(life: _Lifecycle, socket_path: str, pending: PendingIdentity) -> TlsFront:
    from .tls_front import TlsFront, server_ssl_context

    identity = pending.result()
    client_cert = os.environ["PLUGIN_CLIENT_CERT"]
    context = server_ssl_context(pending.certfile, pending.keyfile, client_cert)
    front = TlsFront(socket_path, os.path.join(life.folder, "grpc.sock"), context)
    front.start()
    life.on_stop(front.stop)
    # Terraform reads this one line; a pipe is block-buffered, so flush it now.
    line = f"{_CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|unix|{socket_path}|grpc|"
    sys.stdout.write(line + identity.handshake_cert + "\n")
    sys.stdout.flush()
    return front


def _start_grpc(
    provider_factory: Callable[[], Provider],
    life: _Lifecycle,
    address: str,
    *,
    shutdown_exits: bool,
) -> None:
    from .grpc_service import start_grpc_server

    provider = provider_factory()
    life.on_stop(provider.close)  # stoppers run in reverse: after the server has stopped
    server = start_grpc_server(
        provider,
        address,
        on_shutdown=life.request_stop if shutdown_exits else None,
    )
    life.on_stop(lambda: server.stop(grace=0.2).wait())
