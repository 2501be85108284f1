"""The warm-start launcher's checks, on temporary folders (tests/e2e/test_warm_start.py runs
the launcher and its server for real)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from provider.bridge import warm_launcher
from provider.bridge.warm_launcher import UnsafeRuntimeDir, code_stamp, secure_runtime_dir
from provider.bridge.warm_server import _Start

ROOT_ONLY = pytest.mark.skipif(os.getuid() != 0, reason="making another uid's files needs root")


def test_the_runtime_folder_is_made_private_and_only_a_private_one_is_used(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        made = secure_runtime_dir(str(tmp_path / "run"))
    finally:
        os.umask(old)
    assert (os.stat(made).st_mode & 0o777) == 0o700 and secure_runtime_dir(made) == made

    (tmp_path / "open").mkdir()
    (tmp_path / "open").chmod(0o750)
    with pytest.raises(UnsafeRuntimeDir, match="is open to others \\(mode 750\\)"):
        secure_runtime_dir(str(tmp_path / "open"))
    (tmp_path / "link").symlink_to(made)
    with pytest.raises(UnsafeRuntimeDir, match="is not a folder"):
        secure_runtime_dir(str(tmp_path / "link"))


@ROOT_ONLY
def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 4321, 4321)
    with pytest.raises(UnsafeRuntimeDir, match="belongs to uid 4321, not 0"):
        secure_runtime_dir(str(theirs))


@ROOT_ONLY
def test_a_server_of_another_user_is_refused() -> None:
    """A socket another uid listens on (in a folder that let it in) never gets our stdio."""
    folder = tempfile.mkdtemp(dir="/tmp")  # pytest's tmp_path is closed to other users
    os.chmod(folder, 0o777)
    path = os.path.join(folder, "s.sock")
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the stranger
        try:
            os.setresgid(4321, 4321, 4321)
            os.setresuid(4321, 4321, 4321)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            listener.bind(path)
            listener.listen(1)
            os.write(ready_w, b"R")
            listener.accept()[0].recv(1)
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"R"
        with pytest.raises(UnsafeRuntimeDir, match="runs as uid 4321"):
            warm_launcher._connect(path)
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(ready_r)
        shutil.rmtree(folder)


def test_the_code_stamp_follows_installed_files_not_bytecode(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub" / "__pycache__").mkdir(parents=True)
    (package / "a.py").write_text("A = 1\n")
    (package / "sub" / "b.py").write_text("B = 1\n")
    first = code_stamp(str(package))
    (package / "sub" / "__pycache__" / "b.cpython-311.pyc").write_bytes(b"\0")
    assert code_stamp(str(package)) == first
    os.utime(package / "sub" / "b.py", ns=(1, 1))
    touched = code_stamp(str(package))
    assert touched != first and f"{package}/sub/b.py 6 1 " in touched
    (package / "c.py").write_text("")
    assert code_stamp(str(package)) != touched


def test_a_start_reaches_the_server_as_the_launcher_saw_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TF_PLUGIN_MAGIC_COOKIE", "a=b c")
    umask = os.umask(0o027)
    try:
        start = _Start.parse(warm_launcher._request("stamp", ["--debug", "x y"]))
    finally:
        os.umask(umask)
    assert start is not None and start.stamp == b"stamp" and start.cwd == str(tmp_path).encode()
    assert start.argv == [b"--debug", b"x y"] and start.umask == 0o027
    assert start.environ[b"TF_PLUGIN_MAGIC_COOKIE"] == b"a=b c"
    assert start.environ == dict(os.environb)
    assert _Start.parse(b"warm-start 0\0stamp\0/\x0018\x000") is None  # another protocol
    assert _Start.parse(b"warm-start 1\0stamp\0/\0x\x000") is None  # garbled: refused
