"""Which licenses make a host's API read-only (the rule; the simulator shows the read)."""

from __future__ import annotations

from pyVmomi import vim

from provider.esxi.license import LicenseInfo, license_of


def lic(edition: str, name: str, *features: str) -> vim.LicenseManager.LicenseInfo:
    properties = [
        vim.KeyAnyValue(key="feature", value=vim.KeyValue(key=f, value=f)) for f in features
    ]
    return vim.LicenseManager.LicenseInfo(editionKey=edition, name=name, properties=properties)


def test_the_free_hypervisor_is_read_only() -> None:
    free = lic("esxBasic", "VMware vSphere 7 Hypervisor", "maxRAM:unlimited")
    assert license_of([free]) == LicenseInfo("esxBasic", "VMware vSphere 7 Hypervisor", False)


def test_paid_editions_and_evaluation_allow_writes() -> None:
    paid = lic("esx.enterprisePlus.cpuPackage", "VMware vSphere 7 Enterprise Plus", "vimapi")
    assert license_of([paid]).api_writable
    assert license_of([lic("eval", "Evaluation Mode", "dvs")]).api_writable
    assert license_of([]).api_writable  # nothing known: the write itself will tell


def test_the_api_feature_wins_over_a_free_edition_listed_beside_it() -> None:
    both = [lic("esxBasic", "VMware vSphere 7 Hypervisor"), lic("esx.standard", "Std", "vimapi")]
    assert license_of(both) == LicenseInfo("esx.standard", "Std", True)
