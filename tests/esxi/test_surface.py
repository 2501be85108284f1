"""The adapter's public surface: what the layers above may use, pinned; and that importing
it costs no pyVmomi (a schema-only start of the provider must not pay for it)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import provider.esxi as esxi

PROVIDER = Path(__file__).resolve().parent.parent.parent / "provider"
SURFACE = [
    "AlreadyExists", "AuthenticationFailed", "CertificateMismatch", "Created", "DatastoreFiles",
    "DatastoreInfo", "DiskInfo", "Endpoint", "EsxiError", "HostCapacity", "HostSession",
    "HostUnreachable", "InvalidPowerState", "Inventory", "LicenseInfo", "LiveInventory",
    "NameTaken", "NicInfo", "NicRepair", "NotFound", "PoolInfo", "ResourceInUse",
    "StoppedWaiting", "VmChange", "VmInfo", "VmSpec", "VmState", "VmWatch", "WritesForbidden",
    "clear_options", "create_pool", "create_vms", "destroy_pool", "destroy_vms", "missing_files",
    "missing_in_folders",
    "normalize_thumbprint", "open_session", "power_on_vms", "read_capacity", "read_inventory",
    "read_license", "read_vm_options", "remove_folders", "repair_nics", "reset_vms",
    "set_memory_limit",
]  # fmt: skip


def test_the_public_surface() -> None:
    assert sorted(esxi.__all__) == SURFACE
    for name in SURFACE:
        value = getattr(esxi, name)
        assert value.__name__ == name and value.__module__.startswith("provider.esxi.")
    with pytest.raises(AttributeError, match="has no attribute 'translated'"):
        esxi.translated  # noqa: B018 (inner workings stay inside)


def test_the_layers_above_use_only_the_public_surface() -> None:
    used = set()
    for package in ("photon", "heal"):
        for path in (PROVIDER / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and "esxi" in (node.module or "").split("."):
                    used |= {f"{node.module}: {alias.name}" for alias in node.names}
    assert used, "the scan found the domain's imports"
    assert sorted(u for u in used if u.rsplit(": ", 1)[1] not in SURFACE) == []


def test_importing_the_adapter_imports_no_pyvmomi() -> None:
    code = (
        "import sys\n"
        "from provider.esxi import Endpoint, EsxiError, HostUnreachable\n"
        "assert not [m for m in sys.modules if m.startswith(('pyVmomi', 'pyVim'))]\n"
        "from provider.esxi import open_session\n"
        "assert 'pyVmomi' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
