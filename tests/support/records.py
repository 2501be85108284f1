"""Where a test's platform records live (the datastore or PostgreSQL), and how a test reads
them behind the provider's back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import psycopg

from .probe import probe
from .simulator import TOP, SimHost


@dataclass(frozen=True)
class Records:
    host: SimHost  # the records host (the first host block)
    url: str | None = None  # PostgreSQL; None: the host's datastore

    @property
    def hcl(self) -> str:
        """The provider block's records setting (extra for ``provider_block``)."""
        return f'\n  records {{\n    postgres = "{self.url}"\n  }}' if self.url else ""

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        """A record's body as stored, or None."""
        if self.url is None:
            with probe(self.host) as p:
                data = p.read_file(f"photon-platform/{kind}/{name}.json")
            return None if data is None else json.loads(data)
        with psycopg.connect(self.url) as connection:
            try:
                row = connection.execute(
                    "SELECT body FROM photon_records WHERE kind = %s AND name = %s", (kind, name)
                ).fetchone()
            except psycopg.errors.UndefinedTable:  # no provider run has made it yet
                return None
        return None if row is None else row[0]

    def lock_free(self) -> bool:
        """No run holds the platform lock."""
        if self.url is None:
            with probe(self.host) as p:
                return p.read_file("photon-platform/lock/owner.json") is None
        with psycopg.connect(self.url) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                "database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()
        return row is not None and row[0] == 0


def records_cli(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``terraform-provider-photon records ...`` of this checkout."""
    return subprocess.run(
        [sys.executable, "-m", "provider", "records", *command],
        cwd=TOP, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def datastore_env(host: SimHost) -> dict[str, str]:
    """The environment of a records command on ``host``'s datastore (no PHOTON_ settings of
    the test run leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTON_")}
    return {**env, "PHOTON_HOST": host.address, "PHOTON_HOST_NAME": host.name,
            "PHOTON_PASSWORD": host.password, "PHOTON_THUMBPRINT": host.thumbprint}  # fmt: skip
