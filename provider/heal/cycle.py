"""One guarded cycle: plan, judge the saved plan, apply exactly that plan or refuse it.

The plan file holds the state's secrets (kubeconfig, keys), so it lives in a private temporary
folder (mode 0700) and is deleted after the cycle. ``terraform show -json`` is read from stdout
only: Terraform writes warnings to stderr. Applying the saved plan, not a new one, is what
makes the guard mean something — and Terraform refuses a saved plan once the state has moved on
(another healer or a person applied meanwhile), so two healers never apply the same
restoration twice.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .guard import CLUSTER_TYPE, Restoration, judge
from .terraform import Terraform

__all__ = ["CycleResult", "cluster_grace_periods", "run_cycle"]

CLEAN, RESTORED, REFUSED, ERROR = "clean", "restored", "refused", "error"


@dataclass
class CycleResult:
    outcome: str
    restorations: list[Restoration] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    error: str | None = None
    grace: dict[tuple[str, str], float] = field(default_factory=dict)  # (tenant, cluster)
    seconds: float = 0.0
    unhealthy: frozenset[tuple[str, str, str]] | None = None  # nodes not ready; None: unread


def run_cycle(
    tf: Terraform,
    want_grace: bool = False,
    on_apply: Callable[[list[Restoration]], None] | None = None,
) -> CycleResult:
    """``want_grace``: also read the clusters' grace periods when there is nothing to apply
    (the healer asks when it knows of powered-off nodes, to come back when they are due).
    ``on_apply`` is told what is about to be applied, for the log."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="photon-heal-") as private:
        result = _cycle(tf, Path(private) / "heal.tfplan", want_grace, on_apply)
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _cycle(
    tf: Terraform,
    planfile: Path,
    want_grace: bool,
    on_apply: Callable[[list[Restoration]], None] | None,
) -> CycleResult:
    planned = tf.plan(planfile)
    if planned.code not in (0, 2):
        return CycleResult(ERROR, error=f"terraform plan: {planned.last_error()}")
    if planned.code == 0 and not want_grace:
        return CycleResult(CLEAN)
    shown = tf.show(planfile)
    try:
        plan = json.loads(shown.stdout) if shown.code == 0 else None
    except json.JSONDecodeError:
        plan = None
    if plan is None:
        return CycleResult(ERROR, error=f"terraform show -json: {shown.last_error()}")
    grace, unhealthy = cluster_grace_periods(plan), unhealthy_nodes(plan)
    if planned.code == 0:
        return CycleResult(CLEAN, grace=grace, unhealthy=unhealthy)
    verdict = judge(plan)
    if not verdict.accepted:
        refusals = verdict.refusals or ["the plan changes nothing the healer knows"]
        return CycleResult(
            REFUSED, verdict.restorations, refusals, grace=grace, unhealthy=unhealthy
        )
    if on_apply is not None:
        on_apply(verdict.restorations)
    applied = tf.apply(planfile)
    if applied.code != 0:
        return CycleResult(
            ERROR, verdict.restorations, error=f"terraform apply: {applied.last_error()}"
        )
    return CycleResult(RESTORED, verdict.restorations, grace=grace)


def cluster_grace_periods(plan: Mapping[str, Any]) -> dict[tuple[str, str], float]:
    """(tenant, cluster name) -> health.grace_period in seconds, from the plan's prior state."""
    from ..bridge.notation import parse_duration  # pure; no pyVmomi, no grpc
    from ..photon.health import HealthPolicy

    default = HealthPolicy().grace_period.total_seconds()
    periods: dict[tuple[str, str], float] = {}
    root = ((plan.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
    for resource in _resources(root):
        if resource.get("type") != CLUSTER_TYPE:
            continue
        values = resource.get("values") or {}
        text = (values.get("health") or {}).get("grace_period")
        try:
            seconds = parse_duration(text) if text else default
        except ValueError:
            seconds = default
        periods[(str(values.get("tenant")), str(values.get("name")))] = seconds
    return periods


def unhealthy_nodes(plan: Mapping[str, Any]) -> frozenset[tuple[str, str, str]]:
    """(tenant, cluster, node) of every node not ready in the plan's prior (refreshed) state."""
    root = ((plan.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
    return frozenset(
        (str(values.get("tenant")), str(values.get("name")), name)
        for resource in _resources(root)
        if resource.get("type") == CLUSTER_TYPE
        for values in [resource.get("values") or {}]
        for name, node in (values.get("nodes") or {}).items()
        if (node or {}).get("status") != "ready"
    )


def _resources(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from module.get("resources") or ()
    for child in module.get("child_modules") or ():
        yield from _resources(child)
