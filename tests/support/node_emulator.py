"""Runs a node VM's boot data on this machine, as the VM would after cloud-init: its
``write_files`` laid into a sandbox folder, what its systemd units run started with the real
binaries (``etcd`` from Debian's ``etcd-server``; the readiness report with ``python3``), each
unit's restart policy honoured. The report's guest tools are stand-ins (``guest_tools.py``):
``vmware-rpctool`` sets the guestinfo variable on the VM's simulated host, as VMware Tools
would, and ``cloud-init status`` says done.

So tests prove the boot data a real node would get, not a copy of it made by the test: the
data is read from the simulated host through pyVmomi (``guestinfo.userdata``), as the VM's
cloud-init datasource would read it. Only what this machine has is run: etcd units and the
``python3`` steps of ``runcmd`` (kubeadm is skipped and reported).

Paths under ``/etc``, ``/var/lib`` and ``/usr/local/lib`` are remapped into the node's
sandbox; every node's extra ``https://127.0.0.1:2379`` listener gets its own free port, as all
nodes share this machine's loopback. Node addresses are loopback ``127.0.0.x``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .guest_tools import GUEST_ENV
from .probe import probe
from .simulator import SimHost

__all__ = ["Guest", "NodeEmulator", "Unit", "boot_data", "parse_unit"]
_TOP = Path(__file__).resolve().parents[2]

_REMAPPED = re.compile(r"(^|=)/(etc|var/lib|usr/local/lib)/")
_LOCAL_CLIENT = "https://127.0.0.1:2379"


def boot_data(host: SimHost, vm_id: str) -> dict:
    """The cloud-config a node VM gets, read from its host like cloud-init's VMware
    datasource does (``guestinfo.userdata``, base64)."""
    with probe(host) as p:
        extra = p.extra_config(p.vm(vm_id))
    assert extra["guestinfo.userdata.encoding"] == "base64"
    text = base64.b64decode(extra["guestinfo.userdata"]).decode()
    assert text.startswith("#cloud-config\n")
    return json.loads(text.removeprefix("#cloud-config\n"))


@dataclass(frozen=True)
class Unit:
    """What systemd would run for a unit: ``ExecStartPre`` lines, ``ExecStart``, restart policy."""

    pre: list[list[str]]
    start: list[str]
    restart_always: bool
    restart_sec: float


def parse_unit(text: str) -> Unit:
    pre, start, restart, sec = [], [], "no", 0.1  # systemd's defaults: no restart, 100 ms
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "ExecStartPre":
            pre.append(shlex.split(value))
        elif key == "ExecStart":
            start = shlex.split(value)
        elif key == "Restart":
            restart = value
        elif key == "RestartSec":
            sec = float(value.removesuffix("s"))
    return Unit(pre, start, restart == "always", sec)


@dataclass
class _Service:
    """One systemd unit of a node, supervised as systemd would."""

    unit: Unit
    name: str  # the unit file's name: its output goes to <name>.log in the node's folder
    process: subprocess.Popen | None = None
    thread: threading.Thread | None = None


@dataclass
class _Node:
    name: str
    root: Path
    local_port: int
    services: list[_Service] = field(default_factory=list)
    unit_files: dict[str, str] = field(default_factory=dict)  # by file name: what it may start
    env: dict[str, str] = field(default_factory=dict)
    stopped: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def unit(self) -> Unit | None:
        """The node's etcd unit, if its boot data has one (what etcdctl talks to)."""
        units = [parse_unit(text) for text in self.unit_files.values()]
        etcd = [u for u in units if u.start and u.start[0].endswith("/etcd")]
        return etcd[0] if etcd else None

    def path(self, node_path: str) -> Path:
        return self.root / node_path.lstrip("/")

    def remap(self, arg: str) -> str:
        arg = _REMAPPED.sub(lambda m: f"{m[1]}{self.root}/{m[2]}/", arg)
        return arg.replace(_LOCAL_CLIENT, f"https://127.0.0.1:{self.local_port}")


@dataclass(frozen=True)
class Guest:
    """Where a node's VM is: its guest tools (stand-ins) set guestinfo variables there."""

    host: SimHost
    vm_id: str


class NodeEmulator:
    """Nodes booted from their cloud-config in ``sandbox``; a context manager that stops every
    process it started."""

    def __init__(self, sandbox: Path) -> None:
        self.sandbox = sandbox
        self.nodes: dict[str, _Node] = {}
        self.tools = _guest_tools(sandbox / "guest-tools")

    def __enter__(self) -> NodeEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- booting --------------------------------------------------------------------------

    def boot(
        self,
        name: str,
        config: dict,
        guest: Guest | None = None,
        units: Collection[str] | None = None,
    ) -> None:
        """Lay out the node's files and start its systemd units (``units``: only those, by
        file name; ``start`` starts others later), supervised. With ``guest``, its readiness
        report reaches the VM's host (else its writes fail)."""
        node = self._lay_out(name, config)
        path = f"{self.tools}:{os.environ['PATH']}"
        node.env = {**os.environ, "PATH": path, "PYTHONPATH": str(_TOP)}
        if guest is not None:
            node.env[GUEST_ENV] = json.dumps({**guest.host.connection(), "vm_id": guest.vm_id})
        node.unit_files = {
            f["path"].rsplit("/", 1)[1]: f["content"]
            for f in config["write_files"]
            if f["path"].startswith("/etc/systemd/system/")
        }
        for unit_name in node.unit_files:
            if units is None or unit_name in units:
                self.start(name, unit_name)

    def start(self, name: str, unit_name: str) -> None:
        """``systemctl start`` of one unit the node's boot data wrote."""
        node = self.nodes[name]
        service = _Service(parse_unit(node.unit_files[unit_name]), unit_name)
        service.thread = threading.Thread(target=self._supervise, args=(node, service), daemon=True)
        node.services.append(service)
        service.thread.start()

    def run_commands(self, name: str, config: dict) -> list[subprocess.CompletedProcess]:
        """The ``python3`` steps of ``runcmd`` (each ``&&`` part), in order, remapped; stops
        at the first failure as the shell's ``&&`` would. Other programs are not run."""
        node = self._lay_out(name, config)
        done = []
        for command in config.get("runcmd", []):
            for part in command.split(" && "):
                args = shlex.split(part)
                if args[0] != "/usr/bin/python3":
                    continue
                result = subprocess.run(
                    [node.remap(a) for a in args], capture_output=True, text=True, timeout=600
                )
                done.append(result)
                if result.returncode != 0:
                    return done
        return done

    def _lay_out(self, name: str, config: dict) -> _Node:
        node = self.nodes.get(name)
        if node is None:
            node = _Node(name, self.sandbox / name, _free_port())
            self.nodes[name] = node
        for f in config["write_files"]:
            target = node.path(f["path"])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f["content"])
            target.chmod(int(f["permissions"], 8))
        return node

    def _supervise(self, node: _Node, service: _Service) -> None:
        """systemd's loop for one service: ExecStartPre lines (any failure fails the start),
        then ExecStart; with Restart=always, start again after RestartSec, until stopped."""
        unit = service.unit
        log = (node.root / f"{service.name}.log").open("a")
        while True:
            for args in [*unit.pre, unit.start]:
                if self._run(node, service, args, log) != 0:
                    break
            if not unit.restart_always or node.stopped.wait(unit.restart_sec):
                break
        log.close()

    def _run(self, node: _Node, service: _Service, args: list[str], log: IO[str]) -> int | None:
        with node.lock:
            if node.stopped.is_set():
                return None
            service.process = subprocess.Popen(
                [node.remap(a) for a in args], stdout=log, stderr=subprocess.STDOUT, env=node.env
            )
        code = service.process.wait()
        log.write(f"--- {args[0]} exited {code}\n")
        log.flush()
        return code

    # -- losing and stopping --------------------------------------------------------------

    def kill(self, name: str) -> None:
        """kill -9, as a node that dies: no restart follows."""
        self._stop(self.nodes[name], signal.SIGKILL)

    def lose(self, name: str) -> None:
        """The node is gone for good: its process killed, its files and data removed."""
        self.kill(name)
        shutil.rmtree(self.nodes.pop(name).root)

    def close(self) -> None:
        for node in self.nodes.values():
            self._stop(node, signal.SIGTERM)

    @staticmethod
    def _stop(node: _Node, sig: signal.Signals) -> None:
        with node.lock:
            node.stopped.set()
            processes = [s.process for s in node.services if s.process is not None]
            for process in processes:
                if process.poll() is None:
                    process.send_signal(sig)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for service in node.services:
            if service.thread is not None:
                service.thread.join(timeout=10)

    # -- looking at etcd ------------------------------------------------------------------

    def etcdctl(
        self, via: str, *args: str, endpoints: list[str] | None = None, input: str | None = None
    ) -> str:
        """``etcdctl`` with the certificate node ``via``'s etcd serves with (it has clientAuth),
        against ``endpoints`` (default: that node's own client URL)."""
        tls = {"--cacert": "--trusted-ca-file", "--cert": "--cert-file", "--key": "--key-file"}
        command = [
            "etcdctl", f"--endpoints={','.join(endpoints or [self.client_url(via)])}",
            *(f"{option}={self._flag(via, flag)}" for option, flag in tls.items()),
            "--dial-timeout=3s", "--command-timeout=5s", *args,
        ]  # fmt: skip
        env = {**os.environ, "ETCDCTL_API": "3"}
        result = subprocess.run(
            command, input=input, capture_output=True, text=True, timeout=30, env=env
        )
        if result.returncode != 0:
            raise RuntimeError(f"etcdctl {' '.join(args)} via {via}: {result.stderr.strip()}")
        return result.stdout

    def client_url(self, name: str) -> str:
        return self._flag(name, "--advertise-client-urls").split(",")[0]

    def _flag(self, name: str, flag: str) -> str:
        """A flag of the node's ExecStart, remapped as it was run."""
        node = self.nodes[name]
        assert node.unit is not None
        value = next(a for a in node.unit.start if a.startswith(f"{flag}=")).split("=", 1)[1]
        return node.remap(value)

    def log(self, name: str) -> str:
        """What the node's units printed, one unit after the other."""
        logs = sorted((self.sandbox / name).glob("*.service.log"))
        return "".join(path.read_text(errors="replace") for path in logs)

    def running(self) -> Iterator[str]:
        """The nodes whose etcd runs."""
        for name, node in self.nodes.items():
            etcd = [s for s in node.services if s.unit.start[0].endswith("/etcd")]
            if etcd and etcd[0].process is not None and etcd[0].process.poll() is None:
                yield name


def _guest_tools(folder: Path) -> Path:
    """A folder of the guest tools' stand-ins (guest_tools.py), first on the units' PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    script = Path(__file__).with_name("guest_tools.py")
    for tool in ("vmware-rpctool", "cloud-init"):
        path = folder / tool
        path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" {tool} "$@"\n')
        path.chmod(0o755)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
