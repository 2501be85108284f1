"""Names of Photon objects and of what represents them on ESXi."""

from __future__ import annotations

from ..bridge.validators import matches

__all__ = ["TENANT_NAME_RULE", "pool_name", "tenant_name_validator"]

TENANT_NAME_RULE = (
    "a tenant name starts with a lowercase letter, holds only lowercase letters, digits and "
    "hyphens, does not end with a hyphen, and is at most 63 characters long"
)
_TENANT_NAME = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
_POOL_PREFIX = "photon-tenant-"


def pool_name(tenant: str) -> str:
    """The resource pool of a tenant: recognisable in the vSphere client, unique per host."""
    return _POOL_PREFIX + tenant


tenant_name_validator = matches(_TENANT_NAME, "Invalid tenant name", TENANT_NAME_RULE)
