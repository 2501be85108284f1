"""A private PostgreSQL server on loopback for the pg state backend and the platform records,
started and stopped by the tests themselves (Debian's postgresql package; the server runs as
the postgres user)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
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
        self.start()
        self._as_postgres(_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "tfstate")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-o", options,
                          "-l", str(self.folder / "log"), "-w", "start")  # fmt: skip

    def kill(self) -> None:
        """Stop at once, as a crashed server would (connections cut); ``start`` brings it back."""
        self._as_postgres(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                          "stop")  # fmt: skip

    def url(self, database: str, user: str = "postgres", password: str = "") -> str:
        login = f"{user}:{password}" if password else user
        return f"postgres://{login}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def new_database(self, owner: str = "postgres") -> str:
        """A fresh, empty database (one per test keeps tests apart); its URL."""
        name = f"photon_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE DATABASE {name} OWNER {owner}")
        return self.url(name)

    def sql(self, statement: str, database: str = "postgres") -> str:
        psql = shutil.which("psql") or _bin("psql")
        target = self.url(database).replace("?sslmode=disable", "")
        return subprocess.run(
            [psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement, target],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip

    def add_password_user(self, user: str, password: str) -> None:
        """A user who must log in with a password (the server trusts everyone else)."""
        self.sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        hba = self.folder / "data" / "pg_hba.conf"
        line = f"host all {user} 127.0.0.1/32 scram-sha-256\n"
        hba.write_text(line + hba.read_text())
        self.sql("SELECT pg_reload_conf()")

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
