"""ESXi adapter: the only package that imports pyVmomi, and only when a session is opened.

Public surface (``__all__``): ``Endpoint``, ``HostSession`` (opened with ``open_session``),
the inventory snapshot types, the operations on hosts, and the error hierarchy of
``errors``. pyVmomi faults never leave this package; they are translated into
``EsxiError`` subclasses at the edge (``faults``). ``collector``, ``faults`` and ``tasks``
are its inner workings.

Importing this package costs no pyVmomi: the names of modules that import it are served
on first use (Terraform starts the provider for its schema alone, which needs no host).
"""

from __future__ import annotations

import importlib

from .endpoint import Endpoint, normalize_thumbprint
from .errors import (
    AlreadyExists,
    AuthenticationFailed,
    CertificateMismatch,
    EsxiError,
    HostUnreachable,
    InvalidPowerState,
    NameTaken,
    NotFound,
    ResourceInUse,
    StoppedWaiting,
    WritesForbidden,
)

_ON_FIRST_USE = {
    "session": ("HostSession", "open_session"),
    "inventory": (
        "DatastoreInfo", "DiskInfo", "Inventory", "NicInfo", "PoolInfo", "VmInfo",
        "read_inventory", "read_vm_options",
    ),
    "live_inventory": ("LiveInventory",),
    "capacity": ("HostCapacity", "read_capacity"),
    "license": ("LicenseInfo", "read_license"),
    "datastore": ("DatastoreFiles",),
    "pools": ("create_pool", "destroy_pool", "set_memory_limit"),
    "vms": (
        "Created", "VmSpec", "clear_options", "create_vms", "destroy_vms", "power_on_vms",
        "remove_folders", "reset_vms",
    ),
    "devices": ("NicRepair", "missing_files", "missing_in_folders", "repair_nics"),
    "watch": ("VmChange", "VmState", "VmWatch"),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _ON_FIRST_USE.items() for name in names}

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "CertificateMismatch",
    "Endpoint",
    "EsxiError",
    "HostUnreachable",
    "InvalidPowerState",
    "NameTaken",
    "NotFound",
    "ResourceInUse",
    "StoppedWaiting",
    "WritesForbidden",
    "normalize_thumbprint",
    *_MODULE_OF,
]


def __getattr__(name: str) -> object:
    """A name of a module that imports pyVmomi, imported when first asked for (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
