"""The provider block: which ESXi hosts to use and how to log in to them.

A host's ``user``, ``password``, ``thumbprint`` and ``insecure`` fall back to the ``PHOTON_*``
environment variables; with no ``host`` block at all, ``PHOTON_HOST`` describes the only host.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..bridge.cty import Path, Value
from ..bridge.diagnostics import Diagnostics
from ..esxi.endpoint import Endpoint, normalize_thumbprint
from .records.crypto import KEY_ENV, RecordKeys, parse_keys

__all__ = [
    "ENVIRONMENT",
    "check_thumbprint",
    "configured_keys",
    "endpoints_from_blocks",
    "endpoints_from_config",
    "lock_timeout",
    "record_keys",
    "records_url",
    "validate_hosts",
]

ENVIRONMENT = {
    "PHOTON_HOST": "address of the only host, when the configuration has no host block",
    "PHOTON_HOST_NAME": "name of that host (default: esx-1)",
    "PHOTON_USER": "user for hosts that do not set one (default: root)",
    "PHOTON_PASSWORD": "password for hosts that do not set one",
    "PHOTON_THUMBPRINT": "SHA-256 thumbprint of the only host's certificate",
    "PHOTON_INSECURE": "`true` to skip certificate checks for hosts that do not set it",
    "PHOTON_LOCK_TIMEOUT": "seconds to wait for the platform lock another run holds (default 120)",
    "PHOTON_RECORDS_URL": "PostgreSQL URL for the platform records, when records.postgres is unset",
    KEY_ENV: "keys sealing the cluster secrets in the records (comma-separated base64), when "
    "records.encryption_keys is unset",
}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HOST_PATH = Path.root().attr("host")
RECORDS_PATH = Path.root().attr("records").attr("postgres")


def _known(value: Value) -> object:
    return value.to_python() if value.is_known and not value.is_null else None


def check_thumbprint(value: Value, path: Path, diagnostics: Diagnostics) -> None:
    """The schema's validator of a host's thumbprint."""
    if not _SHA256.fullmatch(normalize_thumbprint(value.to_python())):
        diagnostics.error(
            "Invalid thumbprint",
            "A thumbprint is the SHA-256 hash of the host's certificate: 64 hex digits, "
            "optionally separated by colons. On the host: `openssl x509 -in "
            "/etc/vmware/ssl/rui.crt -noout -fingerprint -sha256`.",
            path,
        )


def validate_hosts(config: Value, diagnostics: Diagnostics) -> None:
    """Checks over several attributes that need no environment and no host: run at validate
    time (each attribute alone is checked by the schema's validators)."""
    blocks = config["host"]
    if not blocks.is_known or blocks.is_null:
        return
    names = {_known(b["name"]) for b in blocks.payload}
    records_host = _known(config["records_host"])
    if records_host is not None and blocks.payload and records_host not in names:
        diagnostics.error(
            "Unknown records host",
            f"records_host {records_host!r} is not the name of a host block.",
            Path.root().attr("records_host"),
        )
    _validate_records(config, diagnostics)
    seen: dict[str, int] = {}
    for index, block in enumerate(blocks.payload):
        path = _HOST_PATH.index(index)
        name = _known(block["name"])
        if isinstance(name, str):
            if name in seen:
                diagnostics.error(
                    "Duplicate host name",
                    f"Host name {name!r} is used by host blocks {seen[name]} and {index}; "
                    "give each host its own name.",
                    path.attr("name"),
                )
            seen.setdefault(name, index)
        if _known(block["thumbprint"]) is not None and _known(block["insecure"]) is True:
            diagnostics.error(
                "Conflicting TLS settings",
                "Set either thumbprint (verify the host) or insecure = true (do not), not both.",
                path.attr("insecure"),
            )


def _configured_url(config: Value) -> object:
    records = config["records"]
    return None if not records.is_known or records.is_null else _known(records["postgres"])


def _validate_records(config: Value, diagnostics: Diagnostics) -> None:
    if _configured_url(config) is not None:
        _refuse_datastore_settings(
            config, "records.postgres", "set one of them (and the same in every configuration)",
            diagnostics,
        )  # fmt: skip


def _refuse_datastore_settings(
    config: Value, postgres: str, todo: str, diagnostics: Diagnostics
) -> None:
    """Records on a datastore and in PostgreSQL (named by ``postgres``) at once: an error."""
    for name in ("records_host", "records_datastore"):
        if _known(config[name]) is not None:
            diagnostics.error(
                "Conflicting records settings",
                f"{name} places the platform records on a datastore, {postgres} in "
                f"PostgreSQL: {todo}.",
                Path.root().attr(name),
            )


def records_url(
    config: Value, environ: Mapping[str, str], diagnostics: Diagnostics
) -> tuple[str | None, Path | None]:
    """The PostgreSQL URL of the records (records.postgres, else ``PHOTON_RECORDS_URL``) and
    where it was set; no URL: the records stay on the datastore."""
    configured = _configured_url(config)
    if isinstance(configured, str):
        return configured, RECORDS_PATH
    url = environ.get("PHOTON_RECORDS_URL") or None
    if url is not None:
        _refuse_datastore_settings(config, "PHOTON_RECORDS_URL", "unset one of them", diagnostics)
    return url, None


def _env_bool(environ: Mapping[str, str], key: str) -> bool:
    return environ.get(key, "").strip().lower() in ("1", "true", "yes")


def endpoints_from_config(
    config: Value, environ: Mapping[str, str], diagnostics: Diagnostics
) -> list[Endpoint]:
    return endpoints_from_blocks(config["host"].to_python() or [], environ, diagnostics)


def endpoints_from_blocks(
    blocks: list[dict[str, Any]], environ: Mapping[str, str], diagnostics: Diagnostics
) -> list[Endpoint]:
    """Host blocks (plain dicts) with the ``PHOTON_*`` fallbacks; none at all: the one host
    ``PHOTON_HOST`` describes. The provider and photon-heal read hosts the same way."""
    single = len(blocks) <= 1
    if not blocks:
        if not environ.get("PHOTON_HOST"):
            diagnostics.error(
                "No ESXi host configured",
                'Add a host block to the provider, e.g. host { name = "esx-1" address = '
                '"10.0.0.5" ... }, or set PHOTON_HOST (and PHOTON_PASSWORD) in the environment.',
                _HOST_PATH,
            )
            return []
        blocks = [
            {"name": environ.get("PHOTON_HOST_NAME") or "esx-1", "address": environ["PHOTON_HOST"]}
        ]
    endpoints = []
    for index, block in enumerate(blocks):
        path = _HOST_PATH.index(index)
        password = block.get("password") or environ.get("PHOTON_PASSWORD")
        if not password:
            diagnostics.error(
                "No password for ESXi host",
                f"Host {block['name']!r} has no password: set password in its host block "
                "(from a sensitive variable) or PHOTON_PASSWORD in the environment.",
                path.attr("password"),
            )
            continue
        thumbprint = block.get("thumbprint") or (
            environ.get("PHOTON_THUMBPRINT") if single else None
        )
        insecure = block.get("insecure")
        if insecure is None:
            insecure = _env_bool(environ, "PHOTON_INSECURE") and thumbprint is None
        endpoints.append(
            Endpoint(
                name=block["name"],
                address=block["address"],
                user=block.get("user") or environ.get("PHOTON_USER") or "root",
                password=password,
                thumbprint=thumbprint,
                insecure=bool(insecure),
            )
        )
    return endpoints


def lock_timeout(environ: Mapping[str, str], diagnostics: Diagnostics) -> float | None:
    text = environ.get("PHOTON_LOCK_TIMEOUT")
    if not text:
        return None
    try:
        seconds = float(text)
        if seconds < 0:
            raise ValueError
    except ValueError:
        diagnostics.error(
            "Invalid PHOTON_LOCK_TIMEOUT",
            f"PHOTON_LOCK_TIMEOUT must be a number of seconds, not {text!r}.",
        )
        return None
    return seconds


def configured_keys(config: Value) -> list[str] | None:
    """records.encryption_keys, when set."""
    records = config["records"]
    given = None if not records.is_known or records.is_null else _known(records["encryption_keys"])
    return list(given) if given else None  # type: ignore[call-overload]


def record_keys(
    given: list[str] | None, environ: Mapping[str, str], diagnostics: Diagnostics
) -> RecordKeys | None:
    """The keys that seal record secrets: ``given`` (records.encryption_keys), else
    ``PHOTON_RECORDS_KEY`` (comma-separated); None without any."""
    texts = given or [t for t in environ.get(KEY_ENV, "").split(",") if t.strip()]
    where = "records.encryption_keys" if given else KEY_ENV
    try:
        keys = parse_keys(texts)
    except ValueError as exc:
        diagnostics.error(
            "Invalid records encryption key",
            f"{where}: {exc}. Make one with `openssl rand -base64 32`.",
            Path.root().attr("records").attr("encryption_keys") if given else None,
        )
        return None
    return RecordKeys(keys) if keys else None
