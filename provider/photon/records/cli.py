"""``terraform-provider-photon records export|import|rekey``: move the platform records
between stores (the datastore and PostgreSQL), keep a copy of them as a JSON file, or seal
their secrets again with the first of the keys.

The store is chosen as the provider chooses it: ``PHOTON_RECORDS_URL`` for PostgreSQL (an
environment variable, so the password stays off command lines), else the datastore of the
host that ``PHOTON_HOST``, ``PHOTON_PASSWORD`` and ``PHOTON_THUMBPRINT`` (or
``PHOTON_INSECURE``) describe. Every command holds the platform lock, so no run changes the
records meanwhile; ``import`` and ``rekey`` read every record back and compare.

Sealed secrets (``records/crypto.py``) travel as they are stored: ``export`` writes
ciphertext unless ``--decrypt`` (with the keys of ``PHOTON_RECORDS_KEY``) asks for clear text.
``rekey`` opens every record with any key of ``PHOTON_RECORDS_KEY`` and seals it with the
first: records written before a key was set are sealed, and an old key can then be dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ...bridge.diagnostics import DiagnosticError, Diagnostics
from ..config import endpoints_from_blocks, lock_timeout, record_keys
from . import KINDS, Record, RecordStore, body_of
from .crypto import KEY_ENV, SECRET_FIELDS

__all__ = ["export_records", "import_records", "main", "rekey"]

_FILE_FORMAT = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="terraform-provider-photon records",
        description="Export the platform records to a JSON file, or import them from one.",
    )
    parser.add_argument("--datastore", help="datastore of the records host (default: its first)")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="write every record to FILE (default: stdout)")
    export.add_argument("file", nargs="?", default="-")
    export.add_argument(
        "--decrypt", action="store_true", help="secrets in clear (keys: PHOTON_RECORDS_KEY)"
    )
    commands.add_parser("rekey", help="seal every record's secrets with the first key")
    imported = commands.add_parser("import", help="write the records of FILE into the store")
    imported.add_argument("file")
    return parser


@contextmanager
def open_store(
    datastore: str | None, environ: Mapping[str, str], *, sealing: bool = False
) -> Iterator[RecordStore]:
    """The records as stored, or (``sealing``) opened and sealed with ``PHOTON_RECORDS_KEY``."""
    diagnostics = Diagnostics()
    lock_wait = lock_timeout(environ, diagnostics)
    url = environ.get("PHOTON_RECORDS_URL")
    endpoints = [] if url else endpoints_from_blocks([], environ, diagnostics)
    keys = record_keys(None, environ, diagnostics)
    if diagnostics.has_errors:
        raise DiagnosticError(*_first(diagnostics))
    if sealing and keys is None:
        raise DiagnosticError(
            "No records key", f"Set {KEY_ENV} to the keys (the first seals), comma-separated."
        )
    records = None
    if url:
        from .postgres import PostgresRecords

        records = PostgresRecords(url, lock_wait)
    from ..platform import Platform

    platform = Platform(
        endpoints, records_datastore=datastore, lock_wait=lock_wait, records=records,
        record_keys=keys, sealing=sealing,
    )  # fmt: skip
    try:
        yield platform.records()
    finally:
        platform.close()


def _first(diagnostics: Diagnostics) -> tuple[str, str]:
    first = next(iter(diagnostics))
    return first.summary, first.detail


def export_records(store: RecordStore) -> dict[str, Any]:
    with store.locked("export the platform records"):
        records = [
            record
            for kind in KINDS
            for name in store.names(kind)
            if (record := store.get(kind, name)) is not None
        ]
    return {"format": _FILE_FORMAT, "records": records}


def import_records(store: RecordStore, exported: Mapping[str, Any]) -> list[str]:
    """Write every record (keeping its ``updated``), read each back; the differences."""
    if exported.get("format") != _FILE_FORMAT or not isinstance(exported.get("records"), list):
        raise DiagnosticError(
            "Not a records file",
            "The file was not written by `records export` (no format 1 and records list).",
        )
    records: list[Record] = exported["records"]
    differences = []
    with store.locked("import the platform records"):
        for record in records:
            kind = _kind_of(record)
            store.put(kind, record["name"], body_of(record), updated=record["updated"])
        for record in records:
            back = store.get(_kind_of(record), record["name"])
            if back != record:
                differences.append(f"{record['kind']} {record['name']}")
    return differences


_KIND_OF = {kind.rstrip("s"): kind for kind in KINDS}  # a record's "kind" -> its store kind


def rekey(store: RecordStore) -> list[str]:
    """Seal every record's secrets with the first key (``store`` opens with any); the
    records that do not read back equal."""
    differences = []
    with store.locked("seal the platform records with the first key"):
        for kind in SECRET_FIELDS:
            for name in store.names(kind):
                record = store.get(kind, name)
                if record is None:
                    continue
                store.put(kind, name, body_of(record), updated=record["updated"])
                if store.get(kind, name) != record:
                    differences.append(f"{record['kind']} {name}")
    return differences


def _kind_of(record: Record) -> str:
    kind = _KIND_OF.get(record.get("kind"))  # type: ignore[arg-type]
    if kind is None or not isinstance(record.get("name"), str):
        raise DiagnosticError(
            "Not a records file", f"A record has no known kind and name: {str(record)[:200]}."
        )
    return kind


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    args = _parser().parse_args(argv)
    sealing = args.command == "rekey" or getattr(args, "decrypt", False)
    try:
        with open_store(args.datastore, environ, sealing=sealing) as store:
            if args.command == "export":
                if args.decrypt:
                    print("Warning: the export holds cluster secrets in clear.", file=sys.stderr)
                text = json.dumps(export_records(store), indent=2, sort_keys=True) + "\n"
                _write(args.file, text)
                return 0
            if args.command == "rekey":
                differences = rekey(store)
            else:
                exported = json.loads(_read(args.file))
                differences = import_records(store, exported)
    except DiagnosticError as exc:
        print(f"Error: {exc.diagnostic.summary}\n  {exc.diagnostic.detail}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"Error: cannot read or write the records file: {exc}", file=sys.stderr)
        return 1
    if differences:
        print("Error: records read back differ: " + ", ".join(differences), file=sys.stderr)
        return 1
    if args.command == "rekey":
        print("Sealed every cluster record with the first key; all read back equal.",
              file=sys.stderr)  # fmt: skip
        return 0
    print(f"Imported {len(exported['records'])} records; all read back equal.", file=sys.stderr)
    return 0


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
        return
    with open(path, "w") as file:
        file.write(text)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path) as source:
        return source.read()
