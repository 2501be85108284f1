"""photon_k8s_cluster's configuration checks as Terraform's validate runs them: the schema's
validators on each attribute, then the resource's rules over several attributes. Each
mistake gets its exact diagnostic at its attribute."""

from __future__ import annotations

import pytest

from provider.bridge.cty import UNKNOWN, Value
from provider.bridge.diagnostics import Diagnostics
from provider.bridge.schema import validate_attributes
from provider.photon.provider import PhotonProvider

CLUSTER = PhotonProvider.resources["photon_k8s_cluster"]
GOOD = {
    "tenant": "team-a",
    "name": "prod",
    "kubernetes_version": "1.32.3",
    "image": "images/k8s.vmdk",
    "master_ips": ["10.0.0.21"],
    "netmask": "24",
}


def validated(**changes: object) -> list[tuple[str, str, str]]:
    attrs = dict.fromkeys(CLUSTER.schema.value_type().attrs) | GOOD | changes
    config = Value.from_python(CLUSTER.schema.value_type(), attrs)
    diagnostics = Diagnostics()
    validate_attributes(CLUSTER.schema.block, config, diagnostics)
    CLUSTER.validate_config(config, diagnostics)
    return [(d.summary, d.detail, str(d.path)) for d in diagnostics]


def test_a_good_configuration_passes() -> None:
    assert validated() == []
    assert validated(netmask="255.255.255.0", health={"grace_period": "90s"}) == []
    assert validated(netmask=UNKNOWN, master_ips=UNKNOWN) == []  # checked once known


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"netmask": "255.0.255.0"}, ("Invalid netmask",
         "'255.0.255.0' is not a netmask like 255.255.255.0 or 24.", "netmask")),
        ({"netmask": None}, ("Netmask needed", "The nodes have static addresses (master_ips); "
         "set netmask (and gateway).", "netmask")),
        ({"health": {"grace_period": "soon"}}, ("Invalid grace period",
         "'soon' is not a duration like 30m, 1h or 90s", "health.grace_period")),
        ({"health": {"max_unhealthy": "150%"}}, ("Invalid max_unhealthy", "'150%' is not a "
         "percentage from 0% to 100%: give a count like 2 or a percentage like 30%.",
         "health.max_unhealthy")),
        ({"health": {"max_unhealthy": "-1"}}, ("Invalid max_unhealthy",
         "'-1' is negative: give a count like 2 or a percentage like 30%.",
         "health.max_unhealthy")),
        ({"timeouts": {"update": "1d"}}, ("Invalid timeout",
         "'1d' is not a duration like 30m, 1h or 90s", "timeouts.update")),
        ({"master_count": 2, "master_ips": ["10.0.0.21", "10.0.0.22"]}, ("Invalid count",
         "2 is not 1 or 3.", "master_count")),
        ({"etcd_count": 2, "etcd_ips": ["10.0.0.11", "10.0.0.12"]}, ("Invalid count",
         "2 is not 0 or 1 or 3.", "etcd_count")),
        ({"worker_count": -1}, ("Invalid count", "-1 is less than 0.", "worker_count")),
        ({"worker_count": 1001}, ("Invalid count", "1001 is more than 1000.", "worker_count")),
        ({"master_count": 3}, ("Wrong number of master addresses", "master_ips has 1 addresses "
         "for 3 master VMs; give one static address per VM.", "master_ips")),
        ({"worker_count": 3, "worker_ips": ["10.0.0.31"]}, ("Worker address pool too small",
         "worker_ips has 1 addresses for 3 workers; add addresses, or leave worker_ips unset "
         "for DHCP.", "worker_ips")),
        ({"worker_ips": ["10.0.0.31", "10.0.0"]}, ("Invalid address",
         "'10.0.0' is not an IPv4 address.", "worker_ips[1]")),
        ({"gateway": "router"}, ("Invalid address", "'router' is not an IPv4 address.",
         "gateway")),
        ({"pod_cidr": "10.244.0.0"}, ("Invalid network", "'10.244.0.0' is not a network in "
         "CIDR notation like 10.244.0.0/16.", "pod_cidr")),
    ],
)  # fmt: skip
def test_each_mistake_gets_its_diagnostic(changes: dict, expected: tuple) -> None:
    assert validated(**changes) == [expected]


def test_unset_counts_are_their_schema_defaults_in_the_rules_over_several_attributes() -> None:
    # 1 master by default: two addresses are one too many; no etcd VMs: none allowed
    assert [s for s, _, _ in validated(master_ips=["10.0.0.21", "10.0.0.22"])] == [
        "Wrong number of master addresses"
    ]
    assert validated(etcd_ips=["10.0.0.11"])[0][2] == "etcd_ips"
    assert validated(worker_ips=[]) == [
        ("Worker address pool too small", "worker_ips has 0 addresses for 1 workers; add "
         "addresses, or leave worker_ips unset for DHCP.", "worker_ips")
    ]  # fmt: skip
