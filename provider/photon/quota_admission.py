"""Quota admission, for resources that consume quota: ``check`` at plan time, then
``admitted`` at apply time, which checks again and carries the request out under the
platform lock. The arithmetic is ``quota_policy``'s; the limits are the photon_quota records.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..bridge.cty import Path
from ..bridge.diagnostics import DiagnosticError
from .platform import Platform
from .quota_policy import Amounts, Decision, decide, limits_of, tenant_usage
from .records import QUOTAS

__all__ = ["admitted", "check", "quota_exceeded"]


def check(platform: Platform, tenant: str, request: Amounts) -> Decision:
    """Would ``request`` fit in the tenant's quota now? (A tenant without quota: yes.)"""
    limits = limits_of(platform.records().get(QUOTAS, tenant))
    if all(v is None for v in limits.as_dict().values()):
        return Decision(())  # unlimited: no need to count, nor to reach every host
    hosts = platform.read_hosts()
    hosts.require_all(f"Growing within the quota of tenant {tenant}")
    return decide(limits, tenant_usage(hosts.inventories, tenant), request)


@contextlib.contextmanager
def admitted(platform: Platform, tenant: str, request: Amounts, purpose: str) -> Iterator[None]:
    """Hold the platform lock while the request is checked and carried out, so two runs
    cannot both pass the check and together exceed the quota."""
    records = platform.records()
    with records.locked(purpose):
        decision = check(platform, tenant, request)
        if not decision.allowed:
            raise quota_exceeded(tenant, decision)
        records.confirm_lock()  # still ours after counting: only then are VMs made
        yield


def quota_exceeded(tenant: str, decision: Decision, path: Path | None = None) -> DiagnosticError:
    return DiagnosticError(
        f"Quota of tenant {tenant} exceeded",
        "; ".join(str(e) for e in decision.excesses)
        + ". Ask for less, free some of the tenant's resources, or raise its photon_quota.",
        path,
    )
