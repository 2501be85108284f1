"""The installed provider started the way Terraform starts it (magic cookie, protocol versions,
a client certificate in the environment) and called over mutual TLS: for timing starts
(scripts/bench) and for tests of the launcher, where Terraform would hide the process."""

from __future__ import annotations

import base64
import glob
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from provider.bridge._generated import grpc_controller_pb2 as controller_pb
from provider.bridge._generated import grpc_controller_pb2_grpc as controller_grpc
from provider.bridge._generated import tfplugin6_pb2 as pb
from provider.bridge._generated import tfplugin6_pb2_grpc as pb_grpc
from provider.bridge.certs import ServerIdentity, make_server_identity
from provider.bridge.plugin_server import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE
from provider.bridge.warm_launcher import peer_credentials


@dataclass
class Started:
    """One provider process and what its handshake line said."""

    proc: subprocess.Popen[bytes]
    handshake: list[str]  # the line's fields: core and app protocol, network, address, ...
    server_pem: bytes
    started: float = field(default_factory=time.perf_counter)

    @property
    def address(self) -> str:
        return self.handshake[3]

    def channel(self, client: ServerIdentity | None) -> grpc.Channel:
        """A channel to it that presents ``client``'s certificate (or none)."""
        credentials = grpc.ssl_channel_credentials(
            self.server_pem,
            client.key_pem if client else None,
            client.cert_pem if client else None,
        )
        options = [("grpc.ssl_target_name_override", "localhost")]
        return grpc.secure_channel(f"unix:{self.address}", credentials, options=options)


class PluginClient:
    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.command = command
        self.identity = make_server_identity()
        self.env = {
            **env,
            MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE,
            "PLUGIN_PROTOCOL_VERSIONS": "6,5",
            "PLUGIN_CLIENT_CERT": self.identity.cert_pem.decode(),
        }

    def start(self, **extra_env: str) -> Started:
        """Launch it and read the handshake line (stderr goes to a pipe: read it after exit)."""
        started = time.perf_counter()
        proc = subprocess.Popen(
            self.command,
            env={**self.env, **extra_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        handshake = proc.stdout.readline().decode().strip().split("|")  # type: ignore[union-attr]
        cert = handshake[-1]
        der = base64.b64decode(cert + "=" * (-len(cert) % 4))
        pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der)
        return Started(proc, handshake, pem + b"-----END CERTIFICATE-----\n", started)

    def channel(self, started: Started) -> grpc.Channel:
        """A channel to it that presents Terraform's certificate, as Terraform's does."""
        return started.channel(self.identity)

    @staticmethod
    def schema(channel: grpc.Channel) -> pb.GetProviderSchema.Response:
        return pb_grpc.ProviderStub(channel).GetProviderSchema(pb.GetProviderSchema.Request())

    @staticmethod
    def shutdown(channel: grpc.Channel) -> None:
        controller_grpc.GRPCControllerStub(channel).Shutdown(controller_pb.Empty())


def warm_server_pids(folder: Path) -> list[int]:
    """The warm-start servers listening in a runtime folder (by SO_PEERCRED)."""
    pids = []
    for path in glob.glob(str(folder / "*.sock")):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
            try:
                probe.connect(path)
            except OSError:
                continue
            pids.append(peer_credentials(probe)[0])
    return pids


def wait_for_warm_server(folder: Path, timeout: float = 20) -> int:
    """The pid of the server listening in ``folder``, once one does."""
    deadline = time.monotonic() + timeout
    while not (pids := warm_server_pids(folder)):
        assert time.monotonic() < deadline, f"no warm-start server in {folder}"
        time.sleep(0.05)
    return pids[0]


def stop_warm_servers(folder: Path, pids: list[int] | None = None) -> None:
    """Stop the servers listening in ``folder`` (and ``pids``, e.g. stale ones still
    draining) and wait until they are gone."""
    for pid in {*warm_server_pids(folder), *(pids or [])}:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        wait_gone(pid)


def wait_gone(pid: int, timeout: float = 10) -> bool:
    """Wait until no process ``pid`` exists (a zombie of ours is reaped); True if it went."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True  # exited; its parent (not us) has yet to reap it
        except (FileNotFoundError, ProcessLookupError):  # gone between open and read
            return True
        time.sleep(0.02)
    return False
