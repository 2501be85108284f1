"""The provider process under Terraform: reattach mode, and what its logs show and hide."""

from __future__ import annotations

import json
import os
import time

from tests.support.reattach import start_reattached
from tests.support.simulator import Simulator
from tests.support.tenancy import pools, tenant
from tests.support.terraform import Terraform, provider_block


def test_reattach_mode_serves_several_terraform_commands(sim: Simulator, tf: Terraform) -> None:
    provider = start_reattached()
    try:
        config = json.loads(provider.value)["registry.terraform.io/photon-platform/photon"]
        assert config["Pid"] == provider.proc.pid and config["Addr"]["Network"] == "unix"

        tf.write(provider_block(sim.hosts) + tenant())
        env = provider.env
        assert tf.run("init", "-no-color", env=env).code == 0
        applied = tf.run("apply", "-auto-approve", "-no-color", env=env)
        assert applied.code == 0, applied.output
        assert tf.run("plan", "-detailed-exitcode", env=env).code == 0
        assert pools(sim)["esx-1"] == ["photon-tenant-team-a"]
        assert provider.proc.poll() is None  # one process served them all

        started = time.monotonic()
        assert provider.stop() == 0
        assert time.monotonic() - started < 1.0
        assert not os.path.exists(os.path.dirname(provider.socket))
    finally:
        provider.stop()


def test_logs_reach_tf_log_with_levels_and_without_secrets(sim: Simulator, tf: Terraform) -> None:
    tf.write(provider_block(sim.hosts) + tenant())
    tf.init()
    applied = tf.run("apply", "-auto-approve", "-no-color", env={"TF_LOG": "trace"})
    assert applied.code == 0
    lines = applied.stderr.splitlines()
    provider_lines = [x for x in lines if "provider.terraform-provider-photon" in x]
    assert any(
        "[DEBUG]" in x
        and "Served request" in x
        and "tf_rpc=ApplyResourceChange" in x
        and "tf_resource_type=photon_tenant" in x
        for x in provider_lines
    )
    assert any("[DEBUG]" in x and "Logging in" in x and "host=esx-1" in x for x in provider_lines)
    for host in sim.hosts:
        assert host.password not in applied.output


def test_trace_logs_of_a_cluster_apply_hold_no_secret(tf: Terraform) -> None:
    import json as json_

    from tests.support.cluster import cluster, state_pki

    with Simulator(2, "--image", "images/k8s.vmdk") as sim:
        tf.write(provider_block(sim.hosts) + tenant() + cluster(workers=1))
        tf.init()
        applied = tf.run("apply", "-auto-approve", "-no-color", env={"TF_LOG": "trace"})
        assert applied.code == 0, applied.output[-3000:]
        logged = applied.output
        assert "tf_rpc=ApplyResourceChange" in logged  # the provider's lines are there
        pki = state_pki(tf)
        kubeconfig = json_.loads(tf.resource_values("photon_k8s_cluster.c")["kubeconfig"])
        secrets = {
            "host password": sim.hosts[0].password,
            "CA key": pki["ca"]["key_pem"].splitlines()[1],
            "admin key": pki["admin"]["key_pem"].splitlines()[1],
            "service-account key": pki["service_account_key_pem"].splitlines()[1],
            "bootstrap token": pki["bootstrap_token"],
            "kubeconfig": kubeconfig["users"][0]["user"]["client-key-data"][:40],
        }
        for what, secret in secrets.items():
            assert secret not in logged, f"{what} appears in the TF_LOG=trace output"
        assert "PRIVATE KEY" not in logged
