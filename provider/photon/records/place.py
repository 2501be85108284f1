"""Which host keeps the platform records on its datastore: stated or found, never the order of
the host blocks.

Two configurations that list the same hosts in another order must share one set of records;
otherwise each keeps its own tenants and quotas, and a quota is counted twice over (a split
brain). So the records host is ``records_host`` when it is stated, else the one host whose
records datastore holds a ``photon-platform`` folder, else (an estate with no records yet) the
first host by name. Every host is looked at once per provider process: one HTTP request each,
in parallel, on the inventory read anyway. A folder on two hosts, or on another host than the
stated one, is an error naming both before anything is written. A datastore mounted by several
hosts (the same ``url``) is one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ...bridge.diagnostics import DiagnosticError
from .datastore import ROOT

if TYPE_CHECKING:
    from ...esxi.inventory import DatastoreInfo, Inventory
    from ...esxi.session import HostSession
    from ..platform import Platform

__all__ = ["find_records_host", "records_datastore"]


def records_datastore(inventory: Inventory, stated: str | None) -> DatastoreInfo | None:
    """The datastore of a host that keeps (or would keep) the records: ``records_datastore``,
    else its first by name, whatever its state (records must never move because a datastore
    was briefly away)."""
    stores = {d.name: d for d in inventory.datastores.values()}
    return stores.get(stated or min(stores, default=""))


def find_records_host(platform: Platform, stated: str | None, datastore: str | None) -> str:
    def holds(session: HostSession) -> str | None:
        """The records datastore's url if it holds the records folder, else None."""
        from ...esxi.datastore import DatastoreFiles

        inventory = platform.kept_inventory(session)
        store = records_datastore(inventory, datastore)
        if store is None or not store.accessible:
            return None
        files = DatastoreFiles(session, store.name, inventory.datacenter)
        return (store.url or f"{session.name}/{store.name}") if files.has_folder(ROOT) else None

    looked = platform.on_hosts(platform.host_names, holds)
    holding = {h: url for h, url in looked.items() if isinstance(url, str)}
    down = sorted(h for h, found in looked.items() if isinstance(found, DiagnosticError))
    places = _places(holding)
    if len(places) > 1:
        raise _two_places(sorted(min(hosts) for hosts in places.values()))
    found = next(iter(places.values()), [])
    if stated is not None:
        if found and stated not in found:
            raise _elsewhere(stated, min(found))
        return stated
    if found:
        return min(found)
    if down:
        raise _unknown(down, looked)
    return min(platform.host_names)


def _places(holding: Mapping[str, str]) -> dict[str, list[str]]:
    """Datastore url -> the hosts that see the records folder on it."""
    places: dict[str, list[str]] = {}
    for host, url in sorted(holding.items()):
        places.setdefault(url, []).append(host)
    return places


def _two_places(hosts: list[str]) -> DiagnosticError:
    named = " and ".join(hosts)
    return DiagnosticError(
        f"Platform records found on two hosts: {named}",
        f"Each of {named} has a {ROOT} folder on its records datastore: configurations "
        "wrote records in two places, so neither sees the other's tenants and quotas. Keep "
        "one: `terraform-provider-photon records export` from the other, import what is "
        f"missing, delete its {ROOT} folder, and set records_host in every configuration.",
    )


def _elsewhere(stated: str, found: str) -> DiagnosticError:
    return DiagnosticError(
        f"Platform records are on {found}, not on records_host {stated}",
        f"This configuration sets records_host = {stated!r}, but the {ROOT} folder is on "
        f"{found}: writing on {stated} would start a second set of records that the other "
        f"configurations do not see. Set records_host = {found!r}, or move the records with "
        f"`terraform-provider-photon records export/import` and delete the {ROOT} folder on "
        f"{found}.",
    )


def _unknown(down: list[str], looked: Mapping[str, object]) -> DiagnosticError:
    """No answering host has the records, and some did not answer: they are probably on one
    of those. A lone host's own diagnostic leads (a wrong password reads as such)."""
    causes = [e.diagnostic for e in looked.values() if isinstance(e, DiagnosticError)]
    names = ", ".join(down)
    summary = causes[0].summary if len(causes) == 1 else f"ESXi hosts did not answer: {names}"
    return DiagnosticError(
        summary,
        " ".join(c.detail for c in causes) + f" No host that answers has the platform records "
        f"(a {ROOT} folder), so they are probably on {names}: tenants, quotas and clusters "
        "are recorded there, and nothing can be planned or changed until it answers. Put "
        "that right, or set records_host to name the records host.",
    )
