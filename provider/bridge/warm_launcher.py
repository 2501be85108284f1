"""The process Terraform starts: hands its stdio to a warm per-user server, or starts plainly.

Run as a script by the installed launcher, ``python -I -S warm_launcher.py NAME ENTRY
[ARGS...]`` (NAME: the provider's short name, ENTRY: ``module:function`` of its normal main).
It imports only built-in modules and no ``site``: this process costs ~15 ms, where a plain
start pays ~300 ms of imports before Terraform's first RPC is answered.

How a warm start goes (see ``warm_server`` for the other side):
1. Connect to ``<runtime dir>/<key>.sock``, a 0700 folder owned by this user, and check that
   the peer runs as this user too (``SO_PEERCRED``).
2. Send the code stamp (paths, sizes, mtimes of the installed package; the interpreter; the
   installed distributions' versions), argv, cwd, umask and the whole environment, with
   fds 0, 1 and 2.
3. A server whose stamp differs answers ``stale`` and stops listening: the next server is
   started from the code installed now. Otherwise it forks a child that takes over the fds
   and runs ENTRY exactly as a plain start would (Terraform's magic cookie, its own TLS
   certificate, the handshake line on stdout).
4. This process stays the one Terraform sees: it forwards INT/TERM/HUP to the child, and
   exits with the child's status; if it dies, its connection closes and the child stops.

``<NAME>_WARM_START=0`` turns it off. Anything that keeps the warm start from working before
the child exists falls back to the plain start (``python -I -c 'from MODULE import FUNCTION;
FUNCTION()'``), saying why in one debug line that ``TF_LOG=debug`` shows.
"""

from __future__ import annotations

# The C modules under signal, socket and stat: their Python wrappers import enum, which
# would double what this launcher costs (~8 ms of ~15).
import _signal as signal
import _socket as socket
import _stat as stat
import os
import sys
import time

__all__ = [
    "PROTOCOL",
    "UnsafeRuntimeDir",
    "code_stamp",
    "main",
    "peer_credentials",
    "runtime_dir",
    "secure_runtime_dir",
    "server_paths",
]

PROTOCOL = b"warm-start 1"
# SIGINT is not among them: a terminal's Ctrl-C, sent to the whole process group, is for
# Terraform, which stops the provider through StopProvider (see plugin_server._Lifecycle).
_FORWARDED = (signal.SIGTERM, signal.SIGHUP)


class UnsafeRuntimeDir(Exception):
    """The runtime folder is not a private folder of this user: never use it."""


def runtime_dir(name: str, environ: os._Environ[str] | dict[str, str]) -> str:
    """``<NAME>_WARM_START_DIR``, else ``$XDG_RUNTIME_DIR/terraform-provider-NAME``, else a
    per-user folder in /tmp."""
    chosen = environ.get(f"{name.upper()}_WARM_START_DIR")
    if chosen:
        return os.path.abspath(chosen)
    base = environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isdir(base):
        return os.path.join(base, f"terraform-provider-{name}")
    return f"/tmp/terraform-provider-{name}-{os.getuid()}"


def secure_runtime_dir(path: str) -> str:
    """Make the folder (0700) or check the existing one: a real folder, not a link, owned by
    this user, closed to everyone else. Anything else could hand our stdio to a stranger."""
    try:  # noqa: SIM105 (here and below: contextlib would cost this launcher an import)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeRuntimeDir(f"{path} is not a folder")
    if info.st_uid != os.getuid():
        raise UnsafeRuntimeDir(f"{path} belongs to uid {info.st_uid}, not {os.getuid()}")
    if info.st_mode & 0o077:
        raise UnsafeRuntimeDir(f"{path} is open to others (mode {info.st_mode & 0o777:o})")
    return path


def _package_dir() -> str:
    """The top package this file belongs to (``provider``), as installed."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def server_paths(folder: str) -> dict[str, str]:
    """Socket, lock and log file of the server for this interpreter and this installed
    package (other environments of the same user get their own server)."""
    key = f"{os.path.realpath(sys.executable)}\0{_package_dir()}".encode()
    base = os.path.join(folder, f"{_fnv1a(key):016x}")
    return {kind: f"{base}.{kind}" for kind in ("sock", "lock", "log")}


def _fnv1a(data: bytes) -> int:
    """A stable short name for a path (``hash()`` changes per process; hashlib costs ~5 ms)."""
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def code_stamp(package: str | None = None) -> str:
    """What identifies the code a server runs: every file of the installed package (path,
    size, mtime, inode: a reinstall or an edit changes it), the interpreter, and the
    distributions installed beside it (their ``*.dist-info`` names carry their versions).
    Compared exactly, so no hash can collide."""
    interpreter = os.path.realpath(sys.executable)
    info = os.stat(interpreter)
    lines = [f"{interpreter} {info.st_size} {info.st_mtime_ns} {info.st_ino}"]
    site = _site_packages()
    if os.path.isdir(site):
        lines += [name for name in os.listdir(site) if name.endswith(".dist-info")]
    pending = [package or _package_dir()]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":  # written by imports, not installed
                        pending.append(entry.path)
                    continue
                info = entry.stat()
                lines.append(f"{entry.path} {info.st_size} {info.st_mtime_ns} {info.st_ino}")
    return "\n".join(sorted(lines))


def _site_packages() -> str:
    """The environment's site-packages, found from the interpreter's path: without ``site``
    (``-S``) ``sys.prefix`` is the base interpreter's, not the virtual environment's."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    prefix = os.path.dirname(os.path.dirname(sys.executable))
    return os.path.join(prefix, "lib", version, "site-packages")


def _debug(name: str, message: str) -> None:
    """One line in go-plugin's JSON log shape: Terraform shows it at ``TF_LOG=debug``."""
    text = message.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    line = f'{{"@level":"debug","@message":"{text}","@module":"{name}.warm-start"}}\n'
    try:  # noqa: SIM105
        os.write(2, line.encode())
    except OSError:
        pass


def _plain_start(entry: str, args: list[str]) -> None:
    module, function = entry.split(":")
    code = f"from {module} import {function}; {function}()"
    os.execv(sys.executable, [sys.executable, "-I", "-c", code, *args])


def _request(stamp: str, args: list[str]) -> bytes:
    umask = os.umask(0o077)
    os.umask(umask)
    fields = [PROTOCOL, stamp.encode(), os.getcwd().encode(), b"%d" % umask, b"%d" % len(args)]
    fields += [os.fsencode(a) for a in args]
    fields += [k + b"=" + v for k, v in os.environb.items()]
    return b"\0".join(fields)


def _stdio() -> list[int]:
    """fds 0-2 to hand over; a closed one is replaced by /dev/null, as the child expects."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def _connect(sock_path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(sock_path)
        _, uid = peer_credentials(sock)
        if uid != os.getuid():
            raise UnsafeRuntimeDir(f"the server on {sock_path} runs as uid {uid}")
    except BaseException:
        sock.close()
        raise
    return sock


def _start_server(name: str, entry: str, folder: str) -> None:
    """Start a server, detached, for the next launches. This launch does not wait for it:
    a server imports more than a plain start does, so waiting is no faster (measured on 2
    busy cores: ~1.35 s to the first RPC waiting, ~1.2 s starting plainly beside it), and
    it needs no timeout for a server that never comes."""
    import subprocess  # only on the rare path that starts a server

    log = os.open(server_paths(folder)["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    module = f"{os.path.basename(_package_dir())}.bridge.warm_server"
    try:
        subprocess.Popen(
            [sys.executable, "-I", "-m", module, name, entry, folder],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,  # never Terraform's pipes
            start_new_session=True,  # not in Terraform's process group: Ctrl-C is not for it
        )  # fmt: skip
    finally:
        os.close(log)


def _hand_over(name: str, sock_path: str, stamp: str, args: list[str]) -> socket.socket | None:
    """Send this start to the server; the connection once a child serves it, None if stale."""
    sock = _connect(sock_path)
    try:
        fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in _stdio())
        sock.sendmsg([_request(stamp, args)], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        answer = sock.recv(64)
    except BaseException:
        sock.close()
        raise
    if answer.startswith(b"started "):
        pid, _ = peer_credentials(sock)
        _debug(name, f"served by warm-start server {pid}, {answer.decode()}")
        return sock
    sock.close()
    if answer == b"stale":
        return None
    # Nothing took over this start's stdio: a refusal, or a child that could not set up
    # (``exit N``) before it said ``started``.
    raise OSError(f"the warm-start server answered {answer[:40]!r}")


def peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """The pid and uid of the process at the other end of a unix socket (``SO_PEERCRED``)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[0:4], sys.byteorder), int.from_bytes(creds[4:8], sys.byteorder)


def _served(name: str, entry: str, args: list[str]) -> socket.socket:
    folder = secure_runtime_dir(runtime_dir(name, os.environ))
    try:
        sock = _hand_over(name, server_paths(folder)["sock"], code_stamp(), args)
    except (FileNotFoundError, ConnectionRefusedError):
        sock = None
    if sock is None:
        _start_server(name, entry, folder)
        raise OSError("no current warm-start server: started one for the next starts")
    return sock


def _wait_for_child(sock: socket.socket) -> int:
    """Forward signals to the child until the server reports its exit; return the status as
    os.waitstatus_to_exitcode gives it (negative: killed by that signal)."""

    def forward(signum: int, _frame: object) -> None:
        try:  # noqa: SIM105
            sock.send(b"signal %d" % signum)
        except OSError:
            pass

    for signum in _FORWARDED:
        signal.signal(signum, forward)
    message = sock.recv(64)
    if message.startswith(b"exit "):
        return int(message[5:])
    return 1  # the server went away before the child: its status is unknown


def _exit_like(status: int) -> None:
    if status < 0:  # die of the same signal, as the plain provider process would have
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        time.sleep(1)
    os._exit(status if status >= 0 else 1)


def main(argv: list[str]) -> None:
    name, entry, *args = argv[1:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # for Terraform (see _FORWARDED); kept by exec
    if os.environ.get(f"{name.upper()}_WARM_START", "1") == "0":
        _plain_start(entry, args)
    try:
        sock = _served(name, entry, args)
    except (OSError, UnsafeRuntimeDir, ValueError) as exc:
        _debug(name, f"warm start unavailable, starting the plain way: {exc}")
        _plain_start(entry, args)
    _exit_like(_wait_for_child(sock))


if __name__ == "__main__":
    main(sys.argv)
