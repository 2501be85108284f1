"""Bootstrap data checked by the real tools: kubectl for the kubeconfig, cloud-init for the
cloud-config, and the kubeadm documents for what they must say."""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from provider.photon.cluster.kubernetes import etcd_rejoin, node_report
from provider.photon.cluster.kubernetes.cloudinit import metadata, recover_pki, userdata
from provider.photon.cluster.kubernetes.kubeconfig import admin_kubeconfig
from provider.photon.cluster.kubernetes.pki import ClusterPki, make_cluster_pki
from provider.photon.cluster.kubernetes.spec import ClusterSpec, Node
from tests.support.node_emulator import parse_unit

ETCD = [Node(f"etcd-{i}", "etcd", f"10.0.0.{10 + i}") for i in (1, 2, 3)]
MASTERS = [Node(f"master-{i}", "master", f"10.0.0.{20 + i}") for i in (1, 2, 3)]
WORKER = Node("worker-1", "worker", None)
SPEC = ClusterSpec(
    tenant="team-a",
    name="prod",
    kubernetes_version="1.32.3",
    pod_cidr="10.244.0.0/16",
    service_cidr="10.96.0.0/12",
    api_address="10.0.0.21",
    etcd=ETCD,
    masters=MASTERS,
    gateway="10.0.0.1",
    prefix_length=24,
    dns_servers=["10.0.0.2"],
    ssh_public_keys=["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPhoton team@example"],
)
STACKED = dataclasses.replace(SPEC, etcd=[])


@pytest.fixture(scope="module")
def pki() -> ClusterPki:
    return make_cluster_pki("prod")


def documents(cloud_config: str, path: str) -> list[dict]:
    config = json.loads(cloud_config.removeprefix("#cloud-config\n"))
    content = next(f["content"] for f in config["write_files"] if f["path"] == path)
    return [json.loads(doc) for doc in content.split("\n---\n")]


def test_kubeconfig_is_read_by_kubectl(pki: ClusterPki, tmp_path: Path) -> None:
    assert shutil.which("kubectl"), "kubectl is needed for this test"
    path = tmp_path / "kubeconfig"
    path.write_text(admin_kubeconfig("prod", SPEC.api_endpoint, pki))
    shown = subprocess.run(
        ["kubectl", "config", "view", "--kubeconfig", str(path), "--raw", "-o", "json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    config = json.loads(shown)
    assert config["current-context"] == "prod"
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://10.0.0.21:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]).decode() == pki.ca.cert_pem
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]).decode() == pki.admin.cert_pem


@pytest.mark.parametrize("node", [ETCD[0], MASTERS[0], MASTERS[1], WORKER], ids=lambda n: n.name)
def test_cloud_config_is_valid_for_cloud_init(pki: ClusterPki, node: Node, tmp_path: Path) -> None:
    check_with_cloud_init(userdata(SPEC, node, pki), tmp_path)


@pytest.mark.parametrize(
    ("spec", "node"), [(SPEC, ETCD[1]), (STACKED, MASTERS[1])], ids=["etcd", "stacked-master"]
)
def test_restored_cloud_config_is_valid_for_cloud_init(
    pki: ClusterPki, spec: ClusterSpec, node: Node, tmp_path: Path
) -> None:
    check_with_cloud_init(userdata(spec, node, pki, joining=True), tmp_path)


def check_with_cloud_init(text: str, tmp_path: Path) -> None:
    assert shutil.which("cloud-init"), "cloud-init (Debian package) is needed for this test"
    path = tmp_path / "user-data"
    path.write_text(text)
    checked = subprocess.run(
        ["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Valid cloud-config" in checked.stdout


def test_first_master_initialises_with_external_etcd_and_the_token(pki: ClusterPki) -> None:
    init, cluster = documents(userdata(SPEC, MASTERS[0], pki), "/etc/kubernetes/kubeadm.json")
    assert init["kind"] == "InitConfiguration" and init["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert init["bootstrapTokens"][0]["token"] == pki.bootstrap_token
    assert init["localAPIEndpoint"]["advertiseAddress"] == "10.0.0.21"
    assert cluster["kubernetesVersion"] == "v1.32.3"
    assert cluster["etcd"]["external"]["endpoints"] == [
        "https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379",
    ]  # fmt: skip
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12"}


def test_other_nodes_join_with_the_token_and_the_ca_hash(pki: ClusterPki) -> None:
    for node in (MASTERS[1], WORKER):
        (join,) = documents(userdata(SPEC, node, pki), "/etc/kubernetes/kubeadm.json")
        assert join["kind"] == "JoinConfiguration"
        discovery = join["discovery"]["bootstrapToken"]
        assert discovery["token"] == pki.bootstrap_token
        assert discovery["caCertHashes"] == [pki.ca_cert_hash]
        assert discovery["apiServerEndpoint"] == "10.0.0.21:6443"
    (join,) = documents(userdata(SPEC, MASTERS[1], pki), "/etc/kubernetes/kubeadm.json")
    assert join["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] == "10.0.0.22"


def test_workers_get_no_keys(pki: ClusterPki) -> None:
    text = userdata(SPEC, WORKER, pki)
    assert "PRIVATE KEY" not in text


def test_etcd_member_lists_its_peers(pki: ClusterPki) -> None:
    config = json.loads(userdata(SPEC, ETCD[1], pki).removeprefix("#cloud-config\n"))
    unit = next(f for f in config["write_files"] if f["path"].endswith("etcd-photon.service"))
    assert "--initial-cluster=prod-etcd-1=https://10.0.0.11:2380,prod-etcd-2=" in unit["content"]
    assert "--name=prod-etcd-2" in unit["content"]


def test_metadata_carries_static_network_config() -> None:
    data = json.loads(metadata(SPEC, MASTERS[0], "vm-42"))
    assert data["instance-id"] == "vm-42" and data["local-hostname"] == "prod-master-1"
    ethernet = data["network"]["ethernets"]["primary"]
    assert ethernet["addresses"] == ["10.0.0.21/24"]
    assert ethernet["routes"] == [{"to": "default", "via": "10.0.0.1"}]
    assert "network" not in json.loads(metadata(SPEC, WORKER, "vm-43"))  # DHCP


def test_metadata_asks_cloud_init_to_clear_the_user_data_it_read() -> None:
    """The user data holds the cluster's keys: cloud-init's VMware datasource clears the
    guestinfo keys listed under ``cleanup-guestinfo`` once it has read them."""
    assert json.loads(metadata(SPEC, WORKER, "vm-43"))["cleanup-guestinfo"] == ["userdata"]


def test_pki_survives_private_state(pki: ClusterPki) -> None:
    assert ClusterPki.from_json(json.loads(json.dumps(pki.to_json()))) == pki


@pytest.mark.parametrize(("spec", "joining"), [(SPEC, False), (SPEC, True), (STACKED, True)])
def test_the_pki_is_recovered_from_a_first_or_a_joined_master(
    pki: ClusterPki, spec: ClusterSpec, joining: bool
) -> None:
    """Import from records that predate the secrets reads a master's boot data: the first
    master's init configuration, or a restored master's join configuration alike."""
    recovered = recover_pki(userdata(spec, MASTERS[0], pki, joining=joining), "prod")
    assert (recovered.ca, recovered.front_proxy_ca) == (pki.ca, pki.front_proxy_ca)
    assert recovered.bootstrap_token == pki.bootstrap_token
    assert recovered.service_account_key_pem == pki.service_account_key_pem
    # with external etcd the etcd CA key never reaches a master; stacked masters have it
    assert recovered.etcd_ca.key_pem == ("" if spec.etcd else pki.etcd_ca.key_pem)


def config_of(text: str) -> dict:
    return json.loads(text.removeprefix("#cloud-config\n"))


def files_of(config: dict) -> dict[str, str]:
    return {f["path"]: f["content"] for f in config["write_files"]}


def test_a_restored_etcd_member_rejoins_through_the_others_before_etcd_starts(
    pki: ClusterPki,
) -> None:
    files = files_of(config_of(userdata(SPEC, ETCD[1], pki, joining=True)))
    unit = files["/etc/systemd/system/etcd-photon.service"]
    pre = next(line for line in unit.splitlines() if line.startswith("ExecStartPre="))
    assert pre.startswith("ExecStartPre=/usr/bin/python3 /usr/local/lib/photon/etcd_rejoin.py add ")
    assert "--endpoints=https://10.0.0.11:2379,https://10.0.0.13:2379 " in pre  # not itself
    assert "--peer-url=https://10.0.0.12:2380 " in pre and "--data-dir=/var/lib/etcd " in pre
    assert "--cert=/etc/etcd/pki/member.crt " in pre
    assert "--initial-cluster-state=existing" in unit
    assert "Restart=always\nRestartSec=5\n" in unit
    script = files["/usr/local/lib/photon/etcd_rejoin.py"]
    assert script == Path(etcd_rejoin.__file__).read_text()


def test_founding_members_and_masters_with_external_etcd_get_no_rejoin_step(
    pki: ClusterPki,
) -> None:
    assert "etcd_rejoin" not in userdata(SPEC, ETCD[1], pki)
    assert "etcd_rejoin" not in userdata(SPEC, MASTERS[1], pki, joining=True)
    assert "etcd_rejoin" not in userdata(STACKED, MASTERS[1], pki)


def test_a_restored_stacked_master_removes_the_lost_member_before_kubeadm_join(
    pki: ClusterPki,
) -> None:
    config = config_of(userdata(STACKED, MASTERS[1], pki, joining=True))
    *report, command = config["runcmd"]
    assert report == [
        "systemctl daemon-reload",
        "systemctl enable --now --no-block photon-report.service",
    ]
    rejoin, join = command.split(" && ")
    assert rejoin.startswith("/usr/bin/python3 /usr/local/lib/photon/etcd_rejoin.py remove ")
    assert "--endpoints=https://10.0.0.21:2379,https://10.0.0.23:2379 " in rejoin
    assert "--cacert=/etc/kubernetes/pki/etcd/ca.crt " in rejoin
    assert join == "kubeadm join --config /etc/kubernetes/kubeadm.json"
    cert = x509.load_pem_x509_certificate(
        files_of(config)["/etc/photon/pki/etcd-rejoin-client.crt"].encode()
    )
    assert cert.issuer == pki.etcd_ca.cert.subject
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]


@pytest.mark.parametrize(
    ("node", "checks"),
    [
        (WORKER, ["kubelet http://127.0.0.1:10248/healthz"]),
        (
            MASTERS[0],
            [
                "kubelet http://127.0.0.1:10248/healthz",
                "apiserver https://127.0.0.1:6443/livez /etc/kubernetes/pki/ca.crt",
            ],
        ),
        (
            ETCD[0],
            [
                "etcd https://127.0.0.1:2379/health /etc/etcd/pki/ca.crt "
                "/etc/etcd/pki/member.crt /etc/etcd/pki/member.key"
            ],
        ),
    ],
)
def test_every_node_runs_its_readiness_report_from_the_start_of_runcmd(
    pki: ClusterPki, node: Node, checks: list[str]
) -> None:
    """The report starts before kubeadm (a failed join is reported too) and checks what the
    node's role serves, with the files its boot data writes."""
    config = config_of(userdata(SPEC, node, pki))
    assert config["runcmd"][:2] == [
        "systemctl daemon-reload",
        "systemctl enable --now --no-block photon-report.service",
    ]
    assert config["runcmd"].count("systemctl daemon-reload") == 1
    files = files_of(config)
    assert files["/usr/local/lib/photon/node_report.py"] == Path(node_report.__file__).read_text()
    unit = parse_unit(files["/etc/systemd/system/photon-report.service"])
    assert unit.start[:4] == [
        "/usr/bin/python3",
        "/usr/local/lib/photon/node_report.py",
        "--version=1.32.3",
        "--state-dir=/var/lib/photon/report",  # which boots came up: kept over its restarts
    ]
    assert unit.start[4:] == [word for c in checks for word in ("--check", *c.split())]
    assert unit.restart_always
    for path in (a for c in checks for a in c.split()[2:]):
        assert path in files  # the CA, certificate and key the check uses are written
