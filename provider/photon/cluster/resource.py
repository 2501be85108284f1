"""photon_k8s_cluster: a Kubernetes cluster as one resource.

Plan works out which nodes the configuration wants (and, after a failed run, which are still
missing), which unhealthy nodes are restored (``plan.plan_nodes``, pure), checks the tenant's
quota and hosts for them, and hands that node plan to apply in the plan's private state.
Apply admits the new nodes under the platform lock, places them over the tenant's hosts,
creates their VMs concurrently from the base disk with ownership marks and cloud-init data,
and records the result; whatever exists after a failure is returned, so the next apply
completes the cluster without duplicates.

This module is the surface Terraform calls; each method decodes its request once into a
``ClusterModel`` and delegates: plan checks to plan_checks.py, apply to apply.py (health
work in restore.py), refresh to refresh.py, import to importing.py.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any, ClassVar

from ...bridge.api import (
    ApplyRequest,
    ApplyResponse,
    ImportResponse,
    PlanRequest,
    PlanResponse,
    ReadRequest,
    ReadResponse,
    Resource,
)
from ...bridge.cty import UNKNOWN, Path, Value
from ...bridge.diagnostics import Diagnostics
from ...bridge.logs import log_context
from ...bridge.schema import Schema
from ..platform import Platform
from .apply import ClusterApply
from .hosts import ClusterHosts
from .importing import import_cluster
from .input_rules import input_problems
from .model import ClusterModel
from .ownership import new_owner, with_ownership
from .plan import plan_nodes, with_node_plan
from .plan_checks import PlanChecks
from .refresh import refresh
from .schema import NODES_TYPE, SCHEMA, TYPE_NAME
from .values import known_in

__all__ = ["ClusterResource"]

log = logging.getLogger("provider.photon")


class ClusterResource(Resource):
    type_name: ClassVar[str] = TYPE_NAME
    schema: ClassVar[Schema] = SCHEMA

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        hosts = ClusterHosts(platform)
        self.checks = PlanChecks(platform, hosts)
        self.apply = ClusterApply(platform, hosts)

    # -- validate ---------------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Value, diagnostics: Diagnostics) -> None:
        """Rules over more than one attribute; the schema's validators check each alone."""
        counts = {
            "master": (known_in(config, "master_count"), _default("master_count"), "master_ips"),
            "etcd": (known_in(config, "etcd_count"), _default("etcd_count"), "etcd_ips"),
        }
        for role, (count, default, ips_name) in counts.items():
            ips = known_in(config, ips_name)
            if count is UNKNOWN or ips is UNKNOWN:
                continue
            count = default if count is None else count
            if len(ips or []) != count:
                diagnostics.error(
                    f"Wrong number of {role} addresses",
                    f"{ips_name} has {len(ips or [])} addresses for {count} {role} VMs; give "
                    "one static address per VM.",
                    Path.root().attr(ips_name),
                )
        workers, pool = known_in(config, "worker_count"), known_in(config, "worker_ips")
        if workers is not UNKNOWN and pool not in (UNKNOWN, None):
            workers = _default("worker_count") if workers is None else workers
            if len(pool) < workers:
                diagnostics.error(
                    "Worker address pool too small",
                    f"worker_ips has {len(pool)} addresses for {workers} workers; add "
                    "addresses, or leave worker_ips unset for DHCP.",
                    Path.root().attr("worker_ips"),
                )
        if config["netmask"].is_null:
            diagnostics.error(
                "Netmask needed",
                "The nodes have static addresses (master_ips); set netmask (and gateway).",
                Path.root().attr("netmask"),
            )
        for problem in input_problems(_inputs(config)):
            diagnostics.error(problem.summary, problem.detail, problem.path)

    # -- plan -------------------------------------------------------------------------

    def modify_plan(self, request: PlanRequest, response: PlanResponse) -> None:
        planned = _with_defaults(request, response.planned_state)
        response.planned_state = planned
        model = ClusterModel.decode(planned)
        if not model.nodes_plannable:
            return  # the nodes stay "known after apply"; apply works them out
        prior = None if request.creating else ClusterModel.decode(request.prior_state)
        observed = self.checks.observe(prior, model, request.prior_private)
        now = datetime.datetime.now(datetime.UTC)
        node_plan = plan_nodes(prior, model, observed, model.health, now)
        response.diagnostics.extend(node_plan.notes)
        # On create the map stays "known after apply": a cluster created with a worker
        # missing (see create) must still match its plan.
        if prior is not None and prior.nodes is not None:
            response.planned_private = with_node_plan(request.prior_private, node_plan)
            if node_plan.changes:
                nodes = Value.from_python(NODES_TYPE, node_plan.planned_nodes(prior.nodes, model))
                response.planned_state = planned.with_attributes({"nodes": nodes})
        if prior is not None and (node_plan.changes or model.attributes != prior.attributes):
            self.checks.owner(model, request.prior_private, response.diagnostics)
        if prior is None or node_plan.changes:  # the cluster's record is written
            self.platform.warn_unsealed(response.diagnostics)
        self.checks.check(prior, model, node_plan, response.diagnostics)

    def plan_destroy(self, request: PlanRequest, response: PlanResponse) -> None:
        """Noted for the tenant's destroy plan, which Terraform plans after this one when the
        cluster refers to its tenant; refused when another state owns the cluster."""
        model = ClusterModel.decode(request.prior_state)
        self.platform.destroy_planned.add(model.record_key)
        self.checks.owner(model, request.prior_private, response.diagnostics)

    # -- apply ------------------------------------------------------------------------

    def create(self, request: ApplyRequest, response: ApplyResponse) -> None:
        self.apply.create(request.planned_state, response)

    def update(self, request: ApplyRequest, response: ApplyResponse) -> None:
        self.apply.update(request, response)

    def delete(self, request: ApplyRequest, response: ApplyResponse) -> None:
        self.apply.delete(
            ClusterModel.decode(request.prior_state), request.planned_private, response
        )

    # -- read, import -------------------------------------------------------------------

    def read(self, request: ReadRequest, response: ReadResponse) -> None:
        calls_before = self.platform.esxi_calls()
        refresh(self.platform, request.state, response)
        log.debug(
            "Cluster refreshed",
            **log_context(
                cluster=request.state["id"].to_python(),
                esxi_calls=self.platform.esxi_calls() - calls_before,
            ),
        )

    def import_state(self, import_id: str, response: ImportResponse) -> None:
        """From the platform record (spec, nodes and secrets), so a lost state can be
        rebuilt; the following refresh reads the nodes' health."""
        imported = import_cluster(self.platform, import_id, response.diagnostics)
        if imported is not None:
            state, pki, generation = imported
            planned = Value.from_python(self.schema.value_type(), state)
            response.states.append(self.apply.state(planned, pki, state["nodes"]))
            private = json.dumps({"pki": pki.to_json()}).encode()
            response.private = with_ownership(private, generation, new_owner())


def _with_defaults(request: PlanRequest, planned: Value) -> Value:
    """``planned`` has the schema's defaults; here what depends on other attributes: the
    worker image (the image), the API endpoint (the first master); on update, the id and
    secrets as they are."""
    if request.config["worker_image"].is_null:
        planned = planned.with_attributes({"worker_image": planned["image"]})
    ips = planned["master_ips"]
    if ips.is_fully_known() and ips.to_python():
        endpoint = f"https://{ips.to_python()[0]}:6443"
        planned = planned.with_attributes(
            {"api_endpoint": Value.from_python(planned.type.attrs["api_endpoint"], endpoint)}
        )  # type: ignore[attr-defined]
    if not request.creating:  # secrets and certificates stay as they are
        planned = planned.with_attributes(
            {k: request.prior_state[k] for k in ("id", "ca_certificate", "kubeconfig")}
        )
    return planned


_INPUTS = (
    "master_ips", "etcd_ips", "worker_ips", "netmask", "gateway", "dns_servers", "pod_cidr",
    "service_cidr", "ssh_public_keys", "image", "worker_image",
)  # fmt: skip


def _inputs(config: Value) -> dict[str, Any]:
    """The inputs the cross-attribute rules judge: None where not known yet; the networks'
    defaults where unset (the nodes must not overlap them either)."""
    values = {n: None if (v := known_in(config, n)) is UNKNOWN else v for n in _INPUTS}
    for name in ("pod_cidr", "service_cidr"):
        if config[name].is_null:
            values[name] = SCHEMA.block.attribute(name).default
    return values


def _default(name: str) -> int:
    return SCHEMA.block.attribute(name).default
