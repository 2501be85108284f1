"""A private PostgreSQL server on loopback for the pg state backend, started and stopped by
the tests themselves (Debian's postgresql package; the server runs as the postgres user)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, "PostgreSQL server not installed; run scripts/setup"
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="photon-pg-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.port = _free_port()
        self._as_postgres(_bin("initdb"), "-D", str(self.folder / "data"), "-A", "trust",
                          "-U", "postgres", "--no-sync")  # fmt: skip
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-o", options,
                          "-l", str(self.folder / "log"), "-w", "start")  # fmt: skip
        self._as_postgres(_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "tfstate")

    @property
    def conn_str(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/tfstate?sslmode=disable"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            cwd="/",
            env={**os.environ, "PGHOST": "127.0.0.1"},
        )

    def stop(self) -> None:
        self._as_postgres(
            _bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop"
        )
        shutil.rmtree(self.folder, ignore_errors=True)
