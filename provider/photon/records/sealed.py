"""The record store as the domain sees it: secret fields sealed on the way in, opened on the
way out (``records/crypto.py``), so nothing else in the provider handles ciphertext.

Without keys, records are written as they are, and a sealed record that is read is a
diagnostic naming the record and the id of the key it needs (never a key), raised before
anything is changed: the plans that read a cluster's record fail with it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from ...bridge.diagnostics import DiagnosticError
from . import Record, RecordStore
from .crypto import SECRET_FIELDS, KeyMissing, RecordKeys, SealBroken, is_sealed

__all__ = ["SealedRecords"]


class SealedRecords:
    def __init__(self, store: RecordStore, keys: RecordKeys | None) -> None:
        self.store = store
        self.keys = keys

    def get(self, kind: str, name: str) -> Record | None:
        record = self.store.get(kind, name)
        if record is None:
            return None
        opened = dict(record)
        for field in SECRET_FIELDS.get(kind, ()):
            if is_sealed(opened.get(field)):
                opened[field] = self._open(kind, name, field, opened[field])
        return opened

    def put(self, kind: str, name: str, body: Record, *, updated: str | None = None) -> None:
        if self.keys is not None:
            body = self.keys.sealed_record(kind, name, body)
        self.store.put(kind, name, body, updated=updated)

    def remove(self, kind: str, name: str) -> None:
        self.store.remove(kind, name)

    def names(self, kind: str) -> list[str]:
        return self.store.names(kind)

    def locked(self, purpose: str, key: str | None = None) -> AbstractContextManager[None]:
        return self.store.locked(purpose, key)

    def confirm_lock(self) -> None:
        self.store.confirm_lock()

    def close(self) -> None:
        self.store.close()

    def _open(self, kind: str, name: str, field: str, sealed: dict[str, Any]) -> Any:
        where = f"The platform record {kind}/{name}"
        configured = ", ".join(self.keys.ids) if self.keys else "none"
        if self.keys is None:
            raise _key_missing(where, str(sealed.get("key_id")), configured)
        try:
            return self.keys.open(sealed, kind, name, field)
        except KeyMissing as exc:
            raise _key_missing(where, exc.key_id, configured) from exc
        except SealBroken as exc:
            raise DiagnosticError(
                "Platform record cannot be opened",
                f"{where}: its sealed {field} does not open with key {sealed.get('key_id')}: "
                "it was changed, or copied from another record. Nothing was changed. Restore "
                "the record from its previous copy or a backup.",
            ) from exc


def _key_missing(where: str, needed: str, configured: str) -> DiagnosticError:
    return DiagnosticError(
        "Platform records key missing",
        f"{where} holds cluster secrets sealed with key {needed}, which is not configured "
        f"(records.encryption_keys or PHOTON_RECORDS_KEY; configured key ids: {configured}). "
        "Give that key too (after the one that seals: rotate with `terraform-provider-photon "
        "records rekey`). Nothing was changed.",
    )
