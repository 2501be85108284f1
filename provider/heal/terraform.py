"""Running the real ``terraform`` CLI in the working directory, one command at a time.

Each command runs in its own process group, so a Ctrl-C on the healer's terminal does not reach
Terraform directly: the healer alone decides to interrupt it, and does so the way Terraform
expects — one SIGINT, then waiting while it finishes the running operation, writes the state and
releases the lock. A second SIGINT would make Terraform exit at once and leave the lock held.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Result", "Terraform"]


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def last_error(self) -> str:
        """The first line of Terraform's error, without its box drawing, for one log field."""
        for line in self.stderr.splitlines():
            text = line.strip().lstrip("│╷╵").strip()
            if text.startswith("Error:"):
                return text
        tail = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        return tail[-1] if tail else f"exit {self.code}"


class Terraform:
    def __init__(
        self,
        workdir: Path,
        lock_timeout: float,
        var_files: list[str],
        env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.lock_timeout = lock_timeout
        self.var_files = var_files
        self.env = {**(env if env is not None else os.environ), "TF_IN_AUTOMATION": "1"}
        self._child: subprocess.Popen[str] | None = None
        self._interrupted = False
        self._guard = threading.RLock()  # the signal handler may run inside _run

    def plan(self, planfile: Path) -> Result:
        """``plan -detailed-exitcode``: 0 nothing to do, 2 changes saved in ``planfile``."""
        return self._run(
            "plan", "-detailed-exitcode", "-input=false", "-no-color",
            f"-lock-timeout={self.lock_timeout:g}s", f"-out={planfile}",
            *(f"-var-file={f}" for f in self.var_files),
        )  # fmt: skip

    def show(self, planfile: Path) -> Result:
        """The saved plan as JSON, on stdout (stderr may hold warnings)."""
        return self._run("show", "-json", "-no-color", str(planfile))

    def apply(self, planfile: Path) -> Result:
        """Exactly the saved plan; Terraform refuses it if the state moved on since."""
        return self._run(
            "apply", "-input=false", "-no-color", f"-lock-timeout={self.lock_timeout:g}s",
            str(planfile),
        )  # fmt: skip

    def _run(self, *args: str) -> Result:
        with self._guard:
            if self._interrupted:
                return Result(130, "", "Error: interrupted before it started")
            self._child = subprocess.Popen(
                ["terraform", *args],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            if self._interrupted:  # a signal arrived while the child was being started
                os.kill(self._child.pid, signal.SIGINT)
        try:
            stdout, stderr = self._child.communicate()
            return Result(self._child.returncode, stdout, stderr)
        finally:
            with self._guard:
                self._child = None

    def interrupt(self) -> None:
        """Stop starting commands; ask a running one to stop (once) and let it finish."""
        with self._guard:
            if self._interrupted:
                return
            self._interrupted = True
            if self._child is not None and self._child.poll() is None:
                os.kill(self._child.pid, signal.SIGINT)
