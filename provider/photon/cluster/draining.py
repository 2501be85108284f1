"""Drain a node through its cluster's Kubernetes API before a roll replaces its VM.

With the cluster's own admin credential (its PKI), as ``kubectl drain`` would: cordon, evict
every pod but DaemonSet and mirror pods through the Eviction API (PodDisruptionBudgets are
respected: a refusal is retried), wait until they are gone, delete the Node object
(``kubernetes/drain.py``). ``rollout.drain_timeout`` bounds it; ``0s`` skips it. What goes
wrong is a diagnostic naming the node, and the pods or the endpoint that stopped it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ...bridge.cty import Path
from ...bridge.diagnostics import DiagnosticError
from .kubernetes.drain import (
    ApiError,
    ApiUnreachable,
    DrainBlocked,
    DrainStopped,
    KubeApi,
    drain_node,
)
from .kubernetes.spec import Node
from .model import ClusterModel

if TYPE_CHECKING:
    from .kubernetes.pki import ClusterPki

__all__ = ["drain"]

_PATH = Path.root().attr("rollout").attr("drain_timeout")


def drain(model: ClusterModel, pki: ClusterPki, node: Node, stop: threading.Event) -> None:
    """Drain ``node`` (a master or worker) before its VM goes; raises a DiagnosticError."""
    policy = model.rollout
    if policy.drain_timeout <= 0:
        return
    hostname = model.spec.hostname(node)
    where = f"{node.name} ({hostname}) of cluster {model.tenant}/{model.name}"
    try:
        api = KubeApi(model["api_endpoint"], pki.ca.cert_pem, pki.admin.cert_pem, pki.admin.key_pem)
        drain_node(api, hostname, policy.drain_timeout, stop=stop)
    except DrainBlocked as exc:
        raise DiagnosticError(
            f"Drain of {node.name} blocked",
            f"{where} still runs {', '.join(exc.pods)} after rollout.drain_timeout "
            f"{policy.drain_text}: a PodDisruptionBudget refuses their eviction, or they do not "
            f"stop. {node.name} keeps its VM (cordoned: no new pods go there). Let the budget "
            "allow it (scale the workload up), or raise drain_timeout, then apply again; "
            'drain_timeout = "0s" replaces the node without draining.',
            _PATH,
        ) from exc
    except ApiUnreachable as exc:
        raise DiagnosticError(
            f"Kubernetes API unreachable: {exc.endpoint}",
            f"{exc.reason}. Draining {where} before its VM is replaced needs the cluster's "
            "API from where Terraform runs. Make it reachable, or set rollout { drain_timeout "
            '= "0s" } to replace the node without draining.',
            _PATH,
        ) from exc
    except ApiError as exc:
        raise DiagnosticError(
            f"Drain of {node.name} failed", f"{where}: {exc}. Nothing was replaced.", _PATH
        ) from exc
    except DrainStopped as exc:
        raise DiagnosticError(
            f"Drain of {node.name} stopped",
            f"Terraform asked to stop (or the update timeout passed) while {where} was "
            "draining; it keeps its VM, cordoned. The next apply goes on.",
        ) from exc
