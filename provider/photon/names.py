"""Names of Photon objects and of what represents them on ESXi."""

from __future__ import annotations

import re

from ..bridge.validators import matches

__all__ = ["NAME_PATTERN", "TENANT_NAME_RULE", "is_name", "pool_name", "tenant_name_validator"]

TENANT_NAME_RULE = (
    "a tenant name starts with a lowercase letter, holds only lowercase letters, digits and "
    "hyphens, does not end with a hyphen, and is at most 63 characters long"
)
NAME_PATTERN = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"  # tenants and clusters alike
_POOL_PREFIX = "photon-tenant-"


def pool_name(tenant: str) -> str:
    """The resource pool of a tenant: recognisable in the vSphere client, unique per host."""
    return _POOL_PREFIX + tenant


tenant_name_validator = matches(NAME_PATTERN, "Invalid tenant name", TENANT_NAME_RULE)


def is_name(text: str) -> bool:
    """Whether ``text`` is a valid tenant or cluster name (import ids are checked with it)."""
    return re.fullmatch(NAME_PATTERN, text) is not None
