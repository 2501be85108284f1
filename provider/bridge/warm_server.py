"""The per-user warm-start server: imports a provider once, then forks one process per start.

Started detached by ``warm_launcher`` (``python -I -m provider.bridge.warm_server NAME ENTRY
FOLDER``) when a launcher finds none. It computes its code stamp before importing anything
of the package, imports ENTRY's module and calls its ``warm_up()`` if it has one, then
listens on the socket in FOLDER (a 0700 folder of this user). It holds FOLDER's lock file
from before it imports until it stops listening, so one server at a time serves.

Per start it accepts only peers of its own uid, compares the stamp, and forks: the child
takes over the launcher's fds, cwd, umask, environment and argv and runs ENTRY as a plain
start would. gRPC is not fork-safe once a server, channel or thread exists, so the server
refuses to serve if importing started any thread (``/proc/self/task``): the child makes all
of them itself. The server reaps children and reports each exit status to its launcher.

It stops listening (and exits once its children are gone) when a launcher's stamp differs
(newer code is installed), on SIGTERM, or after ``<NAME>_WARM_START_IDLE`` seconds (default
600) without a start.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import os
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from .warm_launcher import (
    PROTOCOL,
    code_stamp,
    peer_credentials,
    secure_runtime_dir,
    server_paths,
)

__all__ = ["main"]

_DEFAULT_IDLE = 600.0
_REQUEST_TIMEOUT = 2.0  # a launcher sends its request right after connecting
_STOP_GRACE = 5.0  # after its launcher died, a child stops cleanly or is ended
_MAX_REQUEST = 1 << 20


@dataclass
class _Start:
    """One launch, as the launcher sent it."""

    stamp: bytes
    cwd: bytes
    umask: int
    argv: list[bytes]
    environ: dict[bytes, bytes]

    @classmethod
    def parse(cls, message: bytes) -> _Start | None:
        fields = message.split(b"\0")
        if len(fields) < 5 or fields[0] != PROTOCOL:
            return None
        try:
            count, umask = int(fields[4]), int(fields[3])
        except ValueError:
            return None
        args, env = fields[5 : 5 + count], fields[5 + count :]
        environ = dict(item.split(b"=", 1) for item in env if b"=" in item)
        return cls(fields[1], fields[2], umask, args, environ)


class _Server:
    def __init__(self, listener: socket.socket, lock: int, sock_path: str, stamp: str) -> None:
        self._listener: socket.socket | None = listener
        self._lock = lock
        self._sock_path = sock_path
        self._stamp = stamp.encode()
        self._children: dict[int, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        self._last_activity = time.monotonic()

    def run(self, target: Callable[[], object], idle: float) -> None:
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._wake_w)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: None)  # handled through the wakeup fd
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._selector.register(self._listener, selectors.EVENT_READ)  # type: ignore[arg-type]
        while self._listener is not None or self._children:
            timeout = None
            if self._listener is not None and not self._children:
                timeout = max(0.0, self._last_activity + idle - time.monotonic())
            events = self._selector.select(timeout)
            if not events and timeout is not None:
                self._stop_listening()  # idle
            for key, _ in events:
                if key.fileobj == self._wake_r:
                    self._on_signals(os.read(self._wake_r, 64))
                elif self._listener is not None:
                    self._accept(target)

    def _on_signals(self, signums: bytes) -> None:
        if set(signums) & {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}:
            self._stop_listening()
        while self._children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = self._children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.send(b"exit %d" % os.waitstatus_to_exitcode(status))
                conn.close()
            self._last_activity = time.monotonic()

    def _stop_listening(self) -> None:
        """No more starts: the socket goes (we hold the lock, so it is ours), then the lock,
        so that the next server can start while this one waits for its children."""
        if self._listener is None:
            return
        self._selector.unregister(self._listener)
        self._listener.close()
        self._listener = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._sock_path)
        os.close(self._lock)

    def _accept(self, target: Callable[[], object]) -> None:
        assert self._listener is not None
        conn, _ = self._listener.accept()
        fds: list[int] = []
        try:
            if peer_credentials(conn)[1] != os.getuid():
                return
            conn.settimeout(_REQUEST_TIMEOUT)
            message, fds, flags, _ = socket.recv_fds(conn, _MAX_REQUEST, 3)
            start = _Start.parse(message)
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or start is None or len(fds) != 3:
                return
            if start.stamp != self._stamp:
                self._stop_listening()  # first, so the next server finds the lock free
                conn.send(b"stale")
                return
            conn.settimeout(None)
            pid = os.fork()
            if pid == 0:
                self._become_child(conn, fds, start, target)
            self._children[pid] = conn
            conn = None  # type: ignore[assignment]
            self._last_activity = time.monotonic()
        except OSError as exc:
            print(f"warm-start server: a start failed: {exc}", file=sys.stderr, flush=True)
        finally:
            for fd in fds:
                os.close(fd)
            if conn is not None:
                conn.close()

    def _become_child(
        self, conn: socket.socket, fds: list[int], start: _Start, target: Callable[[], object]
    ) -> None:
        """In the forked child: become the process a plain start would have made; never
        returns."""
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            self._selector.close()
            for own in (self._listener, *self._children.values()):
                if own is not None:
                    own.close()
            for fd in (self._wake_r, self._wake_w, self._lock):
                with contextlib.suppress(OSError):
                    os.close(fd)
            os.chdir(start.cwd)  # fails (a folder gone): exit 1 reaches the launcher first
            os.umask(start.umask)
            os.environb.clear()
            os.environb.update(start.environ)
            sys.argv = ["-c", *(os.fsdecode(a) for a in start.argv)]  # as `python -c` has it
            if "tempfile" in sys.modules:
                sys.modules["tempfile"].tempdir = None  # found again from this TMPDIR
            conn.send(b"started %d" % os.getpid())  # from here on, the launcher is ours
            for target_fd, fd in enumerate(fds):
                os.dup2(fd, target_fd)
            threading.Thread(target=_watch_launcher, args=(conn,), daemon=True).start()
            target()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)


def _watch_launcher(conn: socket.socket) -> None:
    """In a child: pass on the signals its launcher forwards; when the launcher is gone
    (killed, or Terraform gave up on it), stop as on SIGTERM, and for sure after a grace."""
    while True:
        try:
            message = conn.recv(64)
        except OSError:
            message = b""
        if not message:
            break
        if message.startswith(b"signal "):
            os.kill(os.getpid(), int(message[7:]))
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(_STOP_GRACE)
    os._exit(1)


def _listen(sock_path: str) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(sock_path)  # left by a server that died: we hold the lock now
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    old_umask = os.umask(0o177)
    try:
        listener.bind(sock_path)
    finally:
        os.umask(old_umask)
    listener.listen(64)
    return listener


def _single_thread() -> bool:
    """True when this process has exactly one thread (Python's or any library's)."""
    return len(os.listdir("/proc/self/task")) == 1


def main(argv: list[str]) -> int:
    name, entry, folder = argv[1:]
    stamp = code_stamp()  # before importing: code changed meanwhile makes this server stale
    paths = server_paths(secure_runtime_dir(folder))
    lock = os.open(paths["lock"], os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return 0  # another server is starting or listening
    os.chdir("/")  # do not keep the first launcher's working folder busy
    module_name, function = entry.split(":")
    module = importlib.import_module(module_name)
    if hasattr(module, "warm_up"):
        module.warm_up()
    if not _single_thread():
        print("warm-start server: importing started threads; not forking", file=sys.stderr)
        return 1
    gc.collect()
    gc.freeze()  # what was imported stays: keep it out of every child's collections
    listener = _listen(paths["sock"])
    idle = float(os.environ.get(f"{name.upper()}_WARM_START_IDLE", _DEFAULT_IDLE))
    _Server(listener, lock, paths["sock"], stamp).run(getattr(module, function), idle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
