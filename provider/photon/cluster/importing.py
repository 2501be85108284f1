"""Import of photon_k8s_cluster from the platform record (spec, nodes and secrets), so a
lost state can be rebuilt; the refresh that follows reads the nodes' health."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...bridge.diagnostics import DiagnosticError, Diagnostics
from ...esxi.errors import EsxiError
from ..errors import host_error
from ..names import is_name
from ..platform import Platform
from ..records import CLUSTERS
from .health import READY
from .ownership import record_generation
from .schema import SCHEMA

if TYPE_CHECKING:
    from .kubernetes.pki import ClusterPki

__all__ = ["import_cluster"]


def import_cluster(
    platform: Platform, import_id: str, diagnostics: Diagnostics
) -> tuple[dict[str, Any], ClusterPki, int] | None:
    """The state (as plain Python), secrets and record generation of cluster
    ``<tenant>/<name>``; None, with an error, when the records hold no such cluster. The
    importing state owns the cluster from now on (ownership.py): said, when a state made
    it."""
    tenant, _, name = import_id.partition("/")
    record = None
    if is_name(tenant) and is_name(name):
        record = platform.records().get(CLUSTERS, f"{tenant}.{name}")
    if record is None:
        diagnostics.error(
            "No cluster to import",
            f"There is no cluster {import_id!r} in the platform records. Import a "
            "cluster as <tenant>/<name>: `terraform import photon_k8s_cluster.x "
            "team-a/prod`.",
        )
        return None
    nodes = {n: {"mac": None, **v, "status": READY} for n, v in record["nodes"].items()}
    pki = _recorded_pki(platform, import_id, record)
    spec = record["spec"]
    state = {
        **{k: None for k in SCHEMA.value_type().attrs},
        **spec,
        "tenant": tenant,
        "name": name,
        "api_endpoint": f"https://{spec['master_ips'][0]}:6443",
        "worker_batch_size": SCHEMA.block.attribute("worker_batch_size").default,
        "nodes": nodes,
        "timeouts": None,
    }
    generation = record_generation(record)
    if generation:
        diagnostics.warning(
            "This state now manages the cluster",
            f"Cluster {import_id} was made or changed by a Terraform state (record generation "
            f"{generation}). If that state still holds it, its next change of the cluster is "
            "refused: manage each cluster from one configuration (remove it from the other "
            "with `terraform state rm`).",
        )
    return state, pki, generation


def _recorded_pki(platform: Platform, import_id: str, record: Mapping[str, Any]) -> ClusterPki:
    """The secrets from the record; for a record written before it held them, from the
    boot data of any master (a first master's or a joined one's alike)."""
    from ...esxi.inventory import read_vm_options
    from .kubernetes.cloudinit import recover_pki
    from .kubernetes.pki import ClusterPki

    if record.get("pki"):
        return ClusterPki.from_json(record["pki"])
    masters = sorted(n for n, v in record["nodes"].items() if v["role"] == "master")
    failures = []
    for name in masters:
        node = record["nodes"][name]
        try:
            options = read_vm_options(platform.session(node["host"]), node["vm_id"])
            data = base64.b64decode(options.get("guestinfo.userdata", "")).decode()
            return recover_pki(data, record["cluster"])
        except EsxiError as exc:
            failures.append(host_error(exc).diagnostic.detail)
        except DiagnosticError as exc:
            failures.append(exc.diagnostic.detail)
        except (ValueError, KeyError, IndexError):
            failures.append(f"{name}'s boot data holds no cluster certificates.")
    raise DiagnosticError(
        "Cluster cannot be imported",
        f"The record of cluster {import_id} holds no secrets, and no master's boot data "
        f"could give them: {' '.join(failures) or 'the cluster has no master.'} Bring a "
        "master's host back and import again.",
    )
