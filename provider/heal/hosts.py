"""Which hosts to watch: a watch file (the provider's host blocks as JSON) or PHOTON_*.

The file holds passwords, so it must be readable by its owner only (mode 0600 or stricter);
a password can also stay out of it (``password_env`` names an environment variable). Errors
are ``BadInput`` with one line that says what to fix, and never contain a password.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..bridge.diagnostics import Diagnostics
from ..esxi.endpoint import Endpoint
from ..photon.config import endpoints_from_blocks

__all__ = ["BadInput", "check_workdir", "endpoints_from_environment", "read_watch_file"]

_FIELDS = {"name", "address", "user", "password", "password_env", "thumbprint", "insecure"}


class BadInput(Exception):
    """Something the user gave cannot work; the message is the one line to show."""


def read_watch_file(path: Path, environ: Mapping[str, str]) -> list[Endpoint]:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise BadInput(f"watch file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise BadInput(
            f"watch file {path} is mode {stat.S_IMODE(mode):04o}: it holds passwords, so make "
            f"it readable by its owner only (chmod 600 {path})"
        )
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise BadInput(f"watch file {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"watch file {path} is not JSON: {exc}") from None
    hosts = document.get("hosts") if isinstance(document, dict) else None
    if not isinstance(hosts, list) or not hosts:
        raise BadInput(f'watch file {path} must be {{"hosts": [{{"name", "address", ...}}]}}')
    endpoints = [_endpoint(path, i, h, environ) for i, h in enumerate(hosts)]
    names = [e.name for e in endpoints]
    if len(set(names)) != len(names):
        raise BadInput(f"watch file {path}: host names must be unique, got {names}")
    return endpoints


def _endpoint(path: Path, index: int, host: Any, environ: Mapping[str, str]) -> Endpoint:
    where = f"watch file {path}: hosts[{index}]"
    if not isinstance(host, dict):
        raise BadInput(f"{where} must be an object")
    unknown = sorted(set(host) - _FIELDS)
    if unknown:
        raise BadInput(f"{where} has unknown fields {unknown}; known: {sorted(_FIELDS)}")
    for key in ("name", "address"):
        if not isinstance(host.get(key), str) or not host[key]:
            raise BadInput(f"{where} needs a {key}")
    password = host.get("password")
    if host.get("password_env"):
        password = environ.get(str(host["password_env"]))
        if not password:
            raise BadInput(f"{where}: environment variable {host['password_env']} is not set")
    if not password:
        raise BadInput(f'{where} ({host["name"]}) needs "password" or "password_env"')
    if host.get("thumbprint") and host.get("insecure"):
        raise BadInput(f"{where}: set either thumbprint or insecure, not both")
    return Endpoint(
        name=host["name"],
        address=host["address"],
        user=str(host.get("user") or "root"),
        password=str(password),
        thumbprint=host.get("thumbprint"),
        insecure=bool(host.get("insecure")),
    )


def endpoints_from_environment(environ: Mapping[str, str]) -> list[Endpoint]:
    """The single host the provider itself would use without host blocks, read the same
    way (its ``PHOTON_*`` rules for user, thumbprint and insecure)."""
    if not environ.get("PHOTON_HOST"):
        raise BadInput("no hosts to watch: give --watch FILE, or set PHOTON_HOST")
    if not environ.get("PHOTON_PASSWORD"):
        raise BadInput("PHOTON_HOST is set but PHOTON_PASSWORD is not")
    return endpoints_from_blocks([], environ, Diagnostics())


def check_workdir(path: Path) -> None:
    """A directory that ``terraform init`` has prepared: it has a .terraform folder."""
    if not path.is_dir():
        raise BadInput(f"{path} is not a directory")
    if not (path / ".terraform").is_dir() and not os.environ.get("TF_DATA_DIR"):
        raise BadInput(f"{path} is not initialised: run `terraform init` there first")
