"""``terraform-provider-photon records export|import``: move the platform records between
stores (the datastore and PostgreSQL), or keep a copy of them as a JSON file.

The store is chosen as the provider chooses it: ``PHOTON_RECORDS_URL`` for PostgreSQL (an
environment variable, so the password stays off command lines), else the datastore of the
host that ``PHOTON_HOST``, ``PHOTON_PASSWORD`` and ``PHOTON_THUMBPRINT`` (or
``PHOTON_INSECURE``) describe. Both commands hold the platform lock, so no run changes the
records meanwhile; ``import`` reads every record back and compares.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..bridge.diagnostics import DiagnosticError, Diagnostics
from .config import endpoints_from_blocks, lock_timeout
from .records import KINDS, Record, RecordStore, body_of

__all__ = ["export_records", "import_records", "main"]

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
    imported = commands.add_parser("import", help="write the records of FILE into the store")
    imported.add_argument("file")
    return parser


@contextmanager
def open_store(datastore: str | None, environ: Mapping[str, str]) -> Iterator[RecordStore]:
    diagnostics = Diagnostics()
    lock_wait = lock_timeout(environ, diagnostics)
    url = environ.get("PHOTON_RECORDS_URL")
    endpoints = [] if url else endpoints_from_blocks([], environ, diagnostics)
    if diagnostics.has_errors:
        raise DiagnosticError(*_first(diagnostics))
    if url:
        from .records_pg import PostgresRecords

        store: RecordStore = PostgresRecords(url, lock_wait)
        try:
            yield store
        finally:
            store.close()
        return
    from .platform import Platform

    platform = Platform(endpoints, records_datastore=datastore, lock_wait=lock_wait)
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


def _kind_of(record: Record) -> str:
    kind = _KIND_OF.get(record.get("kind"))  # type: ignore[arg-type]
    if kind is None or not isinstance(record.get("name"), str):
        raise DiagnosticError(
            "Not a records file", f"A record has no known kind and name: {str(record)[:200]}."
        )
    return kind


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    args = _parser().parse_args(argv)
    try:
        with open_store(args.datastore, environ) as store:
            if args.command == "export":
                text = json.dumps(export_records(store), indent=2, sort_keys=True) + "\n"
                _write(args.file, text)
                return 0
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
