"""Bootstrap data for each node, for cloud-init's VMware datasource.

``guestinfo.userdata`` is a cloud-config: the node's certificates and kubeadm configuration
in ``write_files``, and the commands that start it in ``runcmd``; every node also gets its
readiness report (``node_report.py`` and a unit that runs it). ``guestinfo.metadata``
names the instance and, with static addressing, carries network-config version 2.

Both are JSON (JSON is YAML, so cloud-init and kubeadm read them as such); kubeadm's
multi-document configuration is JSON documents separated by ``---``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .spec import ClusterSpec, Node

if TYPE_CHECKING:
    from .pki import CertKey, ClusterPki

__all__ = ["metadata", "recover_pki", "userdata"]

_PKI = "/etc/kubernetes/pki"
_ETCD_PKI = "/etc/etcd/pki"
_REJOIN = "/usr/local/lib/photon/etcd_rejoin.py"  # see etcd_rejoin.py: why and how
_REJOIN_CLIENT = "/etc/photon/pki/etcd-rejoin-client"  # stacked masters: its etcd client
_REJOIN_SOURCE = Path(__file__).with_name("etcd_rejoin.py")
_TOKEN_GROUPS = ["system:bootstrappers:kubeadm:default-node-token"]
_REPORT = "/usr/local/lib/photon/node_report.py"  # see node_report.py: why and how
_REPORT_SOURCE = Path(__file__).with_name("node_report.py")
_REPORT_UNIT = "photon-report.service"
_REPORT_STATE = "/var/lib/photon/report"  # which boots came up
_KUBELET_CHECK = "--check kubelet http://127.0.0.1:10248/healthz"
_CHECKS = {
    "worker": _KUBELET_CHECK,
    "master": f"{_KUBELET_CHECK} --check apiserver https://127.0.0.1:6443/livez {_PKI}/ca.crt",
    "etcd": f"--check etcd https://127.0.0.1:2379/health {_ETCD_PKI}/ca.crt "
    f"{_ETCD_PKI}/member.crt {_ETCD_PKI}/member.key",
}


def _file(path: str, content: str, permissions: str = "0644") -> dict[str, str]:
    return {"path": path, "content": content, "permissions": permissions, "owner": "root:root"}


def _pair(base: str, pair: CertKey) -> list[dict[str, str]]:
    return [_file(f"{base}.crt", pair.cert_pem), _file(f"{base}.key", pair.key_pem, "0600")]


def _rejoin(
    mode: str, node: Node, peers: Sequence[Node], tls: tuple[str, str, str], timeout: int
) -> str:
    """The command that removes a lost member (and, in mode ``add``, adds this node) through
    the other members before this node's etcd starts; ``tls`` is CA, certificate, key."""
    cacert, cert, key = tls
    endpoints = ",".join(f"https://{n.ip}:2379" for n in peers if n.name != node.name)
    return (
        f"/usr/bin/python3 {_REJOIN} {mode} --data-dir=/var/lib/etcd "
        f"--peer-url=https://{node.ip}:2380 --endpoints={endpoints} "
        f"--cacert={cacert} --cert={cert} --key={key} --timeout={timeout}"
    )


def _rejoin_script() -> dict[str, str]:
    return _file(_REJOIN, _REJOIN_SOURCE.read_text(), "0755")


def _kubeadm_api(version: str) -> str:
    major, minor = (int(x) for x in version.lstrip("v").split(".")[:2])
    return "kubeadm.k8s.io/v1beta4" if (major, minor) >= (1, 31) else "kubeadm.k8s.io/v1beta3"


def _documents(*docs: dict[str, object]) -> str:
    return "\n---\n".join(json.dumps(d, indent=2) for d in docs) + "\n"


def _cluster_configuration(spec: ClusterSpec) -> dict[str, object]:
    etcd: dict[str, object]
    if spec.etcd:
        etcd = {
            "external": {
                "endpoints": [f"https://{n.ip}:2379" for n in spec.etcd],
                "caFile": f"{_PKI}/etcd/ca.crt",
                "certFile": f"{_PKI}/apiserver-etcd-client.crt",
                "keyFile": f"{_PKI}/apiserver-etcd-client.key",
            }
        }
    else:
        etcd = {"local": {"dataDir": "/var/lib/etcd"}}
    return {
        "apiVersion": _kubeadm_api(spec.kubernetes_version),
        "kind": "ClusterConfiguration",
        "clusterName": spec.name,
        "kubernetesVersion": f"v{spec.kubernetes_version.lstrip('v')}",
        "controlPlaneEndpoint": f"{spec.api_address}:6443",
        "networking": {"podSubnet": spec.pod_cidr, "serviceSubnet": spec.service_cidr},
        "apiServer": {
            "certSANs": sorted({spec.api_address, *(m.ip for m in spec.masters if m.ip)})
        },
        "etcd": etcd,
    }


def _discovery(spec: ClusterSpec, pki: ClusterPki) -> dict[str, object]:
    return {
        "bootstrapToken": {
            "apiServerEndpoint": f"{spec.api_address}:6443",
            "token": pki.bootstrap_token,
            "caCertHashes": [pki.ca_cert_hash],
        }
    }


def _control_plane_files(spec: ClusterSpec, pki: ClusterPki) -> list[dict[str, str]]:
    files = [
        *_pair(f"{_PKI}/ca", pki.ca),
        *_pair(f"{_PKI}/front-proxy-ca", pki.front_proxy_ca),
        _file(f"{_PKI}/sa.key", pki.service_account_key_pem, "0600"),
        _file(f"{_PKI}/sa.pub", pki.service_account_public_pem),
    ]
    if spec.etcd:
        files += [
            _file(f"{_PKI}/etcd/ca.crt", pki.etcd_ca.cert_pem),
            *_pair(f"{_PKI}/apiserver-etcd-client", pki.apiserver_etcd_client),
        ]
    else:  # stacked etcd: kubeadm issues the members' certificates from this CA
        files += _pair(f"{_PKI}/etcd/ca", pki.etcd_ca)
    return files


def _master(
    spec: ClusterSpec, node: Node, pki: ClusterPki, now: datetime.datetime, joining: bool
) -> tuple[list[dict[str, str]], list[str]]:
    api = _kubeadm_api(spec.kubernetes_version)
    advertise = {"advertiseAddress": node.ip, "bindPort": 6443} if node.ip else {"bindPort": 6443}
    node_registration = {"name": spec.hostname(node)}
    if node.name == spec.masters[0].name and not joining:  # the first initialises, others join
        init = {
            "apiVersion": api,
            "kind": "InitConfiguration",
            "bootstrapTokens": [
                {
                    "token": pki.bootstrap_token,
                    "ttl": "0s",  # nodes restored later join with the same token
                    "usages": ["signing", "authentication"],
                    "groups": _TOKEN_GROUPS,
                }
            ],
            "localAPIEndpoint": advertise,
            "nodeRegistration": node_registration,
        }
        config = _documents(init, _cluster_configuration(spec))
        command = "kubeadm init --config /etc/kubernetes/kubeadm.json"
    else:
        join = {
            "apiVersion": api,
            "kind": "JoinConfiguration",
            "discovery": _discovery(spec, pki),
            "controlPlane": {"localAPIEndpoint": advertise},
            "nodeRegistration": node_registration,
        }
        config = _documents(join)
        command = "kubeadm join --config /etc/kubernetes/kubeadm.json"
    files = [
        *_control_plane_files(spec, pki),
        _file("/etc/kubernetes/kubeadm.json", config, "0600"),
    ]
    if joining and not spec.etcd:  # stacked etcd: the lost master's member must go first
        from .pki import issue

        client = issue(pki.etcd_ca, "photon-etcd-rejoin", client=True, now=now)
        files += [_rejoin_script(), *_pair(_REJOIN_CLIENT, client)]
        tls = (f"{_PKI}/etcd/ca.crt", f"{_REJOIN_CLIENT}.crt", f"{_REJOIN_CLIENT}.key")
        # runcmd runs once (no systemd restart): a longer bound, and no join without it
        command = _rejoin("remove", node, spec.masters, tls, 300) + " && " + command
    return files, [command]


def _worker(
    spec: ClusterSpec, node: Node, pki: ClusterPki
) -> tuple[list[dict[str, str]], list[str]]:
    join = {
        "apiVersion": _kubeadm_api(spec.kubernetes_version),
        "kind": "JoinConfiguration",
        "discovery": _discovery(spec, pki),
        "nodeRegistration": {"name": spec.hostname(node)},
    }
    config = _file("/etc/kubernetes/kubeadm.json", _documents(join), "0600")
    return [config], ["kubeadm join --config /etc/kubernetes/kubeadm.json"]


def _etcd(
    spec: ClusterSpec, node: Node, pki: ClusterPki, now: datetime.datetime, joining: bool
) -> tuple[list[dict[str, str]], list[str]]:
    member = pki.etcd_member(spec.hostname(node), node.ip, now)
    cluster = ",".join(f"{spec.hostname(n)}=https://{n.ip}:2380" for n in spec.etcd)
    flags = [
        f"--name={spec.hostname(node)}",
        "--data-dir=/var/lib/etcd",
        f"--listen-client-urls=https://{node.ip}:2379,https://127.0.0.1:2379",
        f"--advertise-client-urls=https://{node.ip}:2379",
        f"--listen-peer-urls=https://{node.ip}:2380",
        f"--initial-advertise-peer-urls=https://{node.ip}:2380",
        f"--initial-cluster={cluster}",
        f"--initial-cluster-token={spec.tenant}-{spec.name}",
        # A member restored into a running cluster joins it instead of starting a new one.
        f"--initial-cluster-state={'existing' if joining else 'new'}",
        "--client-cert-auth",
        "--peer-client-cert-auth",
        f"--trusted-ca-file={_ETCD_PKI}/ca.crt",
        f"--peer-trusted-ca-file={_ETCD_PKI}/ca.crt",
        f"--cert-file={_ETCD_PKI}/member.crt",
        f"--key-file={_ETCD_PKI}/member.key",
        f"--peer-cert-file={_ETCD_PKI}/member.crt",
        f"--peer-key-file={_ETCD_PKI}/member.key",
    ]
    pre = ""
    if joining:  # a restored member: the lost one out, this one in, before etcd starts
        tls = (f"{_ETCD_PKI}/ca.crt", f"{_ETCD_PKI}/member.crt", f"{_ETCD_PKI}/member.key")
        pre = "ExecStartPre=" + _rejoin("add", node, spec.etcd, tls, 60) + "\n"
    unit = (
        "[Unit]\nDescription=etcd member of cluster "
        f"{spec.name}\nAfter=network-online.target\n\n[Service]\n{pre}"
        f"ExecStart=/usr/bin/etcd {' '.join(flags)}\n"
        # RestartSec: a failed rejoin is retried (StartLimitBurst allows 5 starts per 10 s)
        "Restart=always\nRestartSec=5\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    files = [
        _file(f"{_ETCD_PKI}/ca.crt", pki.etcd_ca.cert_pem),
        _file(f"{_ETCD_PKI}/member.crt", member.cert_pem),
        _file(f"{_ETCD_PKI}/member.key", member.key_pem, "0600"),
        _file("/etc/systemd/system/etcd-photon.service", unit),
    ]
    if joining:
        files.append(_rejoin_script())
    # --no-block: a restored member's first rejoin attempts may fail (systemd retries them);
    # that must not fail runcmd, which the node's report would call a failed boot.
    start = "systemctl enable --now --no-block etcd-photon.service"
    return files, ["systemctl daemon-reload", start]


def _report(spec: ClusterSpec, node: Node) -> tuple[list[dict[str, str]], list[str]]:
    """The readiness report: its script and the unit that keeps it running from the start
    of runcmd on (so a failed join is reported too)."""
    unit = (
        "[Unit]\nDescription=Photon node readiness report (guestinfo.photon.status)\n"
        "After=network-online.target\n\n[Service]\n"
        f"ExecStart=/usr/bin/python3 {_REPORT} --version={spec.kubernetes_version.lstrip('v')} "
        f"--state-dir={_REPORT_STATE} {_CHECKS[node.role]}\n"
        "Restart=always\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    files = [
        _file(_REPORT, _REPORT_SOURCE.read_text(), "0755"),
        _file(f"/etc/systemd/system/{_REPORT_UNIT}", unit),
    ]
    return files, ["systemctl daemon-reload", f"systemctl enable --now --no-block {_REPORT_UNIT}"]


def userdata(
    spec: ClusterSpec,
    node: Node,
    pki: ClusterPki,
    now: datetime.datetime | None = None,
    joining: bool = False,
) -> str:
    """``joining``: the node replaces a lost one in a running cluster, so even the first
    master joins (and an etcd member joins the existing etcd cluster)."""
    now = now or datetime.datetime.now(datetime.UTC)
    if node.role == "etcd":
        files, commands = _etcd(spec, node, pki, now, joining)
    elif node.role == "master":
        files, commands = _master(spec, node, pki, now, joining)
    else:
        files, commands = _worker(spec, node, pki)
    report_files, report_commands = _report(spec, node)
    commands = report_commands + [c for c in commands if c not in report_commands]
    config: dict[str, object] = {
        "hostname": spec.hostname(node),
        "write_files": files + report_files,
        "runcmd": commands,
    }
    if spec.ssh_public_keys:
        config["ssh_authorized_keys"] = list(spec.ssh_public_keys)
    return "#cloud-config\n" + json.dumps(config, indent=2) + "\n"


def metadata(spec: ClusterSpec, node: Node, instance_id: str) -> str:
    data: dict[str, object] = {
        "instance-id": instance_id,
        "local-hostname": spec.hostname(node),
        # cloud-init's VMware datasource clears these guestinfo keys once it has read them:
        # the user data holds the cluster's keys (the provider removes it from the VM's
        # configuration too, once the node is ready).
        "cleanup-guestinfo": ["userdata"],
    }
    if node.ip:
        ethernet: dict[str, object] = {
            "match": {"name": "e*"},
            "addresses": [f"{node.ip}/{spec.prefix_length}"],
        }
        if spec.gateway:
            ethernet["routes"] = [{"to": "default", "via": spec.gateway}]
        if spec.dns_servers:
            ethernet["nameservers"] = {"addresses": list(spec.dns_servers)}
        data["network"] = {"version": 2, "ethernets": {"primary": ethernet}}
    return json.dumps(data, indent=2)


def recover_pki(master_userdata: str, cluster: str) -> ClusterPki:
    """The cluster's PKI as a master received it (the first master's init configuration or
    a joined master's join configuration), for importing a cluster whose records predate
    its secrets. The admin certificate is issued anew from the CA; with external etcd the
    etcd CA's key never went to a master, so it stays unknown (restoring an etcd member then
    needs the original state). Raises KeyError or ValueError for other boot data."""
    from .pki import CertKey, ClusterPki, issue

    config = json.loads(master_userdata.removeprefix("#cloud-config\n"))
    files = {f["path"]: f["content"] for f in config["write_files"]}

    def pair(base: str) -> CertKey:
        return CertKey(files[f"{base}.crt"], files.get(f"{base}.key", ""))

    first = json.loads(files["/etc/kubernetes/kubeadm.json"].split("\n---\n")[0])
    if first["kind"] == "InitConfiguration":
        token = first["bootstrapTokens"][0]["token"]
    else:
        token = first["discovery"]["bootstrapToken"]["token"]
    ca = pair(f"{_PKI}/ca")
    external = f"{_PKI}/apiserver-etcd-client.crt" in files
    now = datetime.datetime.now(datetime.UTC)
    return ClusterPki(
        ca=ca,
        etcd_ca=pair(f"{_PKI}/etcd/ca"),
        front_proxy_ca=pair(f"{_PKI}/front-proxy-ca"),
        service_account_key_pem=files[f"{_PKI}/sa.key"],
        service_account_public_pem=files[f"{_PKI}/sa.pub"],
        admin=issue(ca, "kubernetes-admin", organizations=["system:masters"], client=True, now=now),
        apiserver_etcd_client=(
            pair(f"{_PKI}/apiserver-etcd-client") if external else CertKey("", "")
        ),
        bootstrap_token=token,
    )
