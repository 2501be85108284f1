"""ClusterModel: a cluster's attributes decoded once, with what plan does not know yet."""

from __future__ import annotations

import datetime

import pytest

from provider.bridge.cty import UNKNOWN, Value
from provider.photon.cluster.health import HealthPolicy
from provider.photon.cluster.kubernetes.spec import Node
from provider.photon.cluster.model import RECORD_SPEC, ClusterModel, NodeState
from provider.photon.cluster.nodes import Flavor

from .factories import cluster_value, model, node, standing


def test_decoded_once_into_plain_python() -> None:
    decoded = model(standing(), worker_ips=["127.0.1.21", "127.0.1.22", "127.0.1.23"])
    assert (decoded.tenant, decoded.name, decoded.worker_count) == ("team-a", "prod", 3)
    assert decoded.flavors["worker"] == Flavor(2, 4.0, 20)
    assert decoded.flavors["etcd"] == Flavor(1, 2.0, 10)
    assert decoded.nodes is not None and decoded.nodes["master-1"] == NodeState(
        "master", "esx-1", "vm-10", None, None, "ready"
    )
    assert decoded.unknown == frozenset() and decoded.nodes_plannable
    assert decoded.image_for("worker") == decoded.image_for("master") == "images/k8s.vmdk"


def test_desired_nodes_and_bootstrap_spec() -> None:
    decoded = model(etcd_ips=["127.0.1.5"], worker_count=2)
    assert decoded.desired == [
        Node("etcd-1", "etcd", "127.0.1.5"),
        Node("master-1", "master", "127.0.1.11"),
        Node("master-2", "master", "127.0.1.12"),
        Node("master-3", "master", "127.0.1.13"),
        Node("worker-1", "worker", None),  # no worker_ips: DHCP
        Node("worker-2", "worker", None),
    ]
    pooled = model(worker_count=1, worker_ips=["127.0.1.21", "127.0.1.22"])
    assert [n.ip for n in pooled.desired if n.role == "worker"] == ["127.0.1.21"]
    spec = decoded.spec
    assert (spec.api_address, spec.prefix_length, spec.gateway) == ("127.0.1.11", 24, "127.0.1.1")
    assert [n.name for n in spec.etcd] == ["etcd-1"] and len(spec.masters) == 3
    assert decoded.record_spec().keys() == set(RECORD_SPEC)


def test_what_plan_does_not_know_yet_is_named() -> None:
    planned = cluster_value(None).with_attributes(
        {
            "worker_count": Value.unknown(cluster_value().type.attrs["worker_count"]),
            "tenant": Value.unknown(cluster_value().type.attrs["tenant"]),
        }
    )
    decoded = ClusterModel.decode(planned)
    assert decoded.unknown == {"worker_count", "tenant"}
    assert not decoded.nodes_plannable and decoded.nodes is None and decoded.tenant == ""
    assert UNKNOWN not in decoded.attributes.values()


MASTERS = ["master-1", "master-2", "master-3"]
WORKERS = ["worker-1", "worker-2", "worker-3"]


@pytest.mark.parametrize(
    ("change", "rolled"),
    [
        ({}, []),
        ({"worker_flavor": {"vcpu": 4, "memory_gb": 4, "disk_gb": 20}}, WORKERS),
        ({"worker_image": "images/k8s-2.vmdk"}, WORKERS),
        ({"master_flavor": {"vcpu": 4, "memory_gb": 8, "disk_gb": 20}}, MASTERS),
        ({"image": "images/k8s-2.vmdk"}, MASTERS),  # the workers keep worker_image
        ({"kubernetes_version": "1.33.0"}, MASTERS + WORKERS),
        ({"worker_count": 5}, []),
    ],
)
def test_nodes_roll_for_a_new_build_of_their_role(change: dict, rolled: list[str]) -> None:
    prior = model(standing())
    assert prior.nodes is not None
    assert [n for n in prior.nodes if model(**change).rolls(prior, n)] == rolled


def test_an_etcd_vm_rolls_for_its_image_not_for_the_kubernetes_version() -> None:
    prior = model({"etcd-1": node("etcd")}, etcd_count=1)
    assert not model(etcd_count=1, kubernetes_version="1.33.0").rolls(prior, "etcd-1")
    assert model(etcd_count=1, image="images/k8s-2.vmdk").rolls(prior, "etcd-1")


def test_a_node_s_own_build_decides_not_the_prior_configuration() -> None:
    """After an interrupted roll the state holds the new configuration: the nodes that did
    not roll yet still say what they were made for."""
    nodes = standing()
    nodes["worker-1"] |= {"kubernetes_version": "1.32.3"}
    nodes["worker-2"] |= {"kubernetes_version": "1.33.0"}
    prior = model(nodes, kubernetes_version="1.33.0")
    assert model(kubernetes_version="1.33.0").rolls(prior, "worker-1")
    assert not model(kubernetes_version="1.33.0").rolls(prior, "worker-2")


def test_health_block_with_its_defaults() -> None:
    assert model().health == HealthPolicy()
    block = {"enabled": None, "grace_period": " 90s", "max_unhealthy": "2", "power_on": True,
             "rebuild_lone_control_plane": None}  # fmt: skip
    policy = model(health=block).health
    assert policy.grace_period == datetime.timedelta(seconds=90) and policy.grace_text == "90s"
    assert (policy.enabled, policy.max_unhealthy, policy.power_on) == (True, "2", True)
    assert not policy.rebuild_lone_control_plane


def test_timeouts_and_node_dicts() -> None:
    decoded = model({"worker-1": node("worker")}, timeouts={"create": "30m", "update": None,
                                                            "delete": None})  # fmt: skip
    assert decoded.timeouts["create"] == "30m"
    assert decoded.nodes is not None and decoded.nodes["worker-1"].as_dict() == node("worker")
