"""The provider started once in reattach mode (``--debug``), as CI pipelines may run it."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from dataclasses import dataclass

ADDRESS = "registry.terraform.io/photon-platform/photon"


@dataclass
class Reattached:
    proc: subprocess.Popen[str]
    value: str  # what TF_REATTACH_PROVIDERS is set to

    @property
    def socket(self) -> str:
        return str(json.loads(self.value)[ADDRESS]["Addr"]["String"])

    @property
    def env(self) -> dict[str, str]:
        return {"TF_REATTACH_PROVIDERS": self.value}

    def stop(self) -> int:
        """SIGINT, as a person at the terminal would; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=10)


def start_reattached(python: str = sys.executable) -> Reattached:
    proc = subprocess.Popen(
        [python, "-m", "provider", "--debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in proc.stdout:  # type: ignore[union-attr]
        match = re.search(r"export TF_REATTACH_PROVIDERS='(.*)'", line)
        if match:
            return Reattached(proc, match.group(1))
    proc.kill()
    raise RuntimeError("the provider did not start in reattach mode")
