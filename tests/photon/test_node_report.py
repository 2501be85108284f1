"""The readiness report a node runs (kubernetes/node_report.py): its phases, what it reads of
cloud-init and of the node's own endpoints, and how it writes the guest variable. Standard
library only, on the oldest Python a node image may carry (3.8)."""

from __future__ import annotations

import glob
import http.server
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from provider.photon.cluster.kubernetes import node_report
from provider.photon.cluster.kubernetes.node_report import Reporter, check_url, cloud_init_status

DONE, RUNNING = ("done", ""), ("running", "")


def phases(reporter: Reporter, steps: list[tuple[tuple[str, str], list[str], float]]) -> list:
    """What each step writes: (phase, reason), or None when nothing changed."""
    written = []
    for cloud_init, failures, now in steps:
        report = reporter.step(cloud_init, failures, now)
        written.append(None if report is None else (report["phase"], report["reason"]))
    return written


def test_booting_until_cloud_init_is_done_and_every_check_passed_once() -> None:
    reporter = Reporter("1.32.3", "boot-1")
    assert phases(reporter, [
        (RUNNING, [], 0), (RUNNING, [], 1), (DONE, ["kubelet"], 2), (DONE, ["kubelet"], 60),
        (DONE, [], 61),
    ]) == [
        ("booting", "cloud-init running"), None, ("booting", "waiting for kubelet"), None,
        ("ready", ""),
    ]  # fmt: skip


def test_failing_only_after_30_seconds_in_a_row_and_ready_again() -> None:
    reporter = Reporter("1.32.3", "boot-1", failing_after=30)
    assert phases(reporter, [
        (DONE, [], 0), (DONE, ["kubelet"], 10), (DONE, ["kubelet"], 39.9), (DONE, [], 40),
        (DONE, ["kubelet", "apiserver"], 50), (DONE, ["kubelet", "apiserver"], 80),
        (DONE, ["kubelet", "apiserver"], 90), (DONE, [], 95),
    ]) == [
        ("ready", ""), None, None, None,  # a restart is not a failure
        None, ("failing", "kubelet, apiserver unhealthy for 30s"), None, ("ready", ""),
    ]  # fmt: skip


def test_a_report_restarted_in_a_boot_that_came_up_does_not_say_booting_again() -> None:
    """Restarted (it crashed, or was updated) while the kubelet restarts: failing after 30 s,
    as before the restart, not booting (which the provider would time as a new boot)."""
    reporter = Reporter("1.32.3", "boot-1", failing_after=30, came_up=True)
    assert phases(reporter, [(DONE, ["kubelet"], 0), (DONE, ["kubelet"], 30)]) == [
        ("ready", ""), ("failing", "kubelet unhealthy for 30s")
    ]  # fmt: skip


def test_a_cloud_init_error_is_failed_with_its_reason() -> None:
    reporter = Reporter("1.32.3", "boot-1")
    assert phases(reporter, [(RUNNING, [], 0), (("error", "runcmd failed"), ["kubelet"], 5)]) == [
        ("booting", "cloud-init running"), ("failed", "cloud-init: runcmd failed")
    ]  # fmt: skip
    report = Reporter("1.31.2", "boot-9").step(DONE, [], 0)
    assert report == {"phase": "ready", "reason": "", "version": "1.31.2", "boot": "boot-9"}


@pytest.mark.parametrize(
    ("stdout", "status"),
    [
        ("status: done\ntime: Thu, 04 Dec 2026 10:00:00 +0000\ndetail:\nDataSourceVMware\n",
         ("done", "DataSourceVMware")),
        ("status: running\n", ("running", "")),
        ("status: done\nextended_status: degraded done\n", ("done", "")),
        ("status: error\nextended_status: error - done\ndetail: DataSourceVMware\nerrors:\n"
         "\t- ('scripts_user', RuntimeError('Runparts: 1 failures (runcmd)'))\n",
         ("error", "('scripts_user', RuntimeError('Runparts: 1 failures (runcmd)'))")),
        ("status: error\nerrors:\n\t- ('scripts_user', RuntimeError('runcmd failed'))\n",
         ("error", "('scripts_user', RuntimeError('runcmd failed'))")),
        ("", ("unknown", "")),
    ],
)  # fmt: skip
def test_cloud_init_status(stdout: str, status: tuple[str, str]) -> None:
    def run(args: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        assert args == ["cloud-init", "status", "--long"]
        return subprocess.CompletedProcess(args, 0, stdout, "")

    assert cloud_init_status(run) == status


class _Answers(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, bytes]]] = {
        "/healthz": (200, b"ok"),
        "/broken": (500, b"no"),
        "/health": (200, b'{"health":"true","reason":""}'),
        "/no-leader": (503, b'{"health":"false"}'),
        "/health-false": (200, b'{"health":"false"}'),
    }

    def do_GET(self) -> None:
        code, body = self.answers.get(self.path, (404, b""))
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "healthy"),
    [("/healthz", True), ("/broken", False), ("/health", True), ("/no-leader", False),
     ("/health-false", False), ("/missing", False)],
)  # fmt: skip
def test_a_check_passes_on_200_and_a_health_that_says_true(
    endpoint: str, path: str, healthy: bool
) -> None:
    assert check_url(endpoint + path, []) is healthy


def test_nothing_listening_fails_the_check() -> None:
    assert check_url("http://127.0.0.1:9/healthz", [], timeout=1) is False


def test_a_check_whose_own_files_are_missing_fails_and_does_not_crash(tmp_path: Path) -> None:
    missing = str(tmp_path / "ca.crt")
    assert check_url("https://127.0.0.1:9/health", [missing]) is False
    assert check_url("https://127.0.0.1:9/health", [missing, missing, missing]) is False


def _tools(folder: Path, rpctool: int | None, vmtoolsd: int) -> Path:
    """Stand-ins that record their arguments and exit as told (None: not installed)."""
    folder.mkdir()
    for name, code in (("vmware-rpctool", rpctool), ("vmtoolsd", vmtoolsd)):
        if code is not None:
            (folder / name).write_text(
                f'#!/bin/sh\necho "$@" >> "{folder}/{name}.args"\nexit {code}\n'
            )
            (folder / name).chmod(0o755)
    return folder


@pytest.mark.parametrize(
    ("rpctool", "used"), [(0, "vmware-rpctool"), (None, "vmtoolsd"), (1, "vmtoolsd")]
)
def test_the_status_is_set_with_vmware_rpctool_or_else_vmtoolsd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rpctool: int | None, used: str
) -> None:
    tools = _tools(tmp_path / "bin", rpctool, 0)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    report = {"phase": "ready", "reason": "", "version": "1.32.3", "boot": "b"}
    assert node_report.write_status(report)
    args = (tools / f"{used}.args").read_text().strip()
    assert args.endswith(
        f"info-set guestinfo.photon.status {json.dumps(report, separators=(',', ':'))}"
    )
    assert args.startswith("--cmd ") == (used == "vmtoolsd")


def test_no_tools_means_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_tools(tmp_path / "bin", None, 1)))
    assert node_report.write_status({"phase": "ready"}) is False


PYTHON38 = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.8*/bin/python3.8")))


@pytest.mark.skipif(not PYTHON38, reason="no Python 3.8 here (pyenv)")
def test_runs_on_python_3_8(tmp_path: Path) -> None:
    """Its phases, on the oldest Python a node image may carry."""
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('r', {node_report.__file__!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "r = m.Reporter('1.32.3', 'b', 30)\n"
        "done = ('done', '')\n"
        "steps = [(done, [], 0), (done, ['etcd'], 10), (done, ['etcd'], 40)]\n"
        "print(json.dumps([r.step(*step) for step in steps]))\n"
    )
    ran = subprocess.run([PYTHON38[-1], "-c", code], capture_output=True, text=True, timeout=30)
    assert ran.returncode == 0, ran.stderr
    written = json.loads(ran.stdout)
    assert [r and r["phase"] for r in written] == ["ready", None, "failing"]
