"""What a host's license allows: read once per host per process (it changes rarely, and
an apply that meets a changed one gets ``WritesForbidden`` from the fault translation).

The free vSphere Hypervisor licence makes the host's API read-only: writes fail with
``RestrictedVersion``. That edition is reported with the key ``esxBasic``; paid editions
list the ``vimapi`` (vSphere API) feature among the licence's properties. Evaluation mode
(``eval``) allows writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyVmomi import vim

from .collector import properties_of
from .faults import translated
from .session import HostSession

__all__ = ["LicenseInfo", "license_of", "read_license"]

_FREE_EDITIONS = frozenset({"esxBasic"})
_API_FEATURE = "vimapi"


@dataclass(frozen=True)
class LicenseInfo:
    edition_key: str
    name: str  # as the host shows it, e.g. "VMware vSphere 7 Hypervisor"
    api_writable: bool


def read_license(session: HostSession) -> LicenseInfo:
    """The host's licence, in one PropertyCollector call."""
    with translated(session.name):
        manager = session.content.licenseManager
        found = properties_of(session, [manager], vim.LicenseManager, ["licenses"])
    return license_of([lic for props in found.values() for lic in props.get("licenses") or ()])


def license_of(licenses: list[vim.LicenseManager.LicenseInfo]) -> LicenseInfo:
    """Writable unless the license is a free edition and none lists the API feature. The one
    shown is the license that decides."""

    def features(lic: vim.LicenseManager.LicenseInfo) -> set[str]:
        return {
            str(p.value.key)
            for p in lic.properties or ()
            if p.key == "feature" and isinstance(p.value, vim.KeyValue)
        }

    api = [lic for lic in licenses if _API_FEATURE in features(lic)]
    free = [lic for lic in licenses if lic.editionKey in _FREE_EDITIONS]
    shown = (api or free or licenses or [None])[0]
    return LicenseInfo(
        edition_key=str(shown.editionKey) if shown else "",
        name=str(shown.name) if shown else "",
        api_writable=bool(api) or not free,
    )
