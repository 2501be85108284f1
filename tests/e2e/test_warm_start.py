"""The warm start (provider/bridge/warm_launcher.py, warm_server.py): the installed launcher
hands Terraform's stdio to a per-user server that forks the provider. Through the real
terraform and the installed launcher; each test's servers run in a runtime folder of its own
or the session's (tests/e2e/conftest.py), and are stopped."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from provider.bridge.warm_launcher import server_paths
from tests.support.plugin_client import (
    PluginClient,
    Started,
    stop_warm_servers,
    wait_for_warm_server,
    wait_gone,
    warm_server_pids,
)
from tests.support.simulator import Simulator
from tests.support.terraform import Terraform, installed_launcher, provider_block

SERVED = re.compile(r"served by warm-start server (\d+), started (\d+)")


def tenants(*names: str) -> str:
    return "".join(
        f'\nresource "photon_tenant" "{n}" {{\n  name = "{n}"\n  description = "{n}"\n}}\n'
        for n in names
    )


def plan_json(tf: Terraform, name: str, **env: str) -> tuple[dict, str]:
    """A saved plan as ``show -json`` gives it, and the plan's debug log."""
    planned = tf.run("plan", f"-out={name}", "-no-color", env={"TF_LOG": "debug", **env})
    assert planned.code == 0, planned.output
    shown = json.loads(tf.ok("show", "-json", name, env=env).stdout)
    return shown, planned.stderr


def test_a_plan_served_warm_is_the_plan_served_cold(sim: Simulator, tf: Terraform) -> None:
    runtime = Path(tf.env["PHOTON_WARM_START_DIR"])
    tf.write(provider_block(sim.hosts) + tenants("team-a"))
    tf.init()
    assert tf.apply().code == 0
    server = wait_for_warm_server(runtime)  # started by the session's first launch, at latest
    assert (os.stat(runtime).st_mode & 0o777) == 0o700

    tf.write(
        provider_block(sim.hosts) + tenants("team-a", "team-b").replace('"team-a"\n}', '"A"\n}')
    )
    warm, warm_log = plan_json(tf, "warm.tfplan")
    cold, cold_log = plan_json(tf, "cold.tfplan", PHOTON_WARM_START="0")

    served = SERVED.findall(warm_log)
    assert len(served) >= 3 and {s for s, _ in served} == {str(server)}  # schema, validate, plan
    assert "warm start unavailable" not in warm_log
    assert not SERVED.search(cold_log) and "warm start unavailable" not in cold_log
    changes = {c["address"]: c["change"]["actions"] for c in warm["resource_changes"]}
    assert changes == {"photon_tenant.team-a": ["update"], "photon_tenant.team-b": ["create"]}
    assert warm["resource_changes"] == cold["resource_changes"]
    assert warm["planned_values"] == cold["planned_values"]


@pytest.fixture
def client(tmp_path: Path, terraform_env: dict[str, str]) -> Iterator[PluginClient]:
    """The installed launcher, started as Terraform starts it, with a runtime folder of this
    test's own."""
    folder = Path(terraform_env["TF_CLI_CONFIG_FILE"]).parent
    env = {**terraform_env, "PHOTON_WARM_START_DIR": str(tmp_path / "warm")}
    yield PluginClient([str(installed_launcher(folder))], env)
    stop_warm_servers(tmp_path / "warm")


def served_by(started: Started) -> tuple[int, int]:
    """(server pid, provider pid) from the launcher's debug line, its first on stderr."""
    line = started.proc.stderr.readline().decode()  # type: ignore[union-attr]
    match = SERVED.search(line)
    assert match, line
    return int(match[1]), int(match[2])


def answers_schema(client: PluginClient, started: Started) -> bool:
    with client.channel(started) as channel:
        return bool(client.schema(channel).resource_schemas)


def test_the_provider_ends_with_its_launcher_and_gets_its_signals(client: PluginClient) -> None:
    runtime = Path(client.env["PHOTON_WARM_START_DIR"])
    first = client.start()  # no server yet: a plain start, which starts one
    assert answers_schema(client, first)
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(timeout=10) == 0
    said = first.proc.stderr.read()  # type: ignore[union-attr]
    assert b"no current warm-start server: started one for the next starts" in said
    server = wait_for_warm_server(runtime)

    killed = client.start()
    server_pid, provider = served_by(killed)
    assert server_pid == server and answers_schema(client, killed)
    killed.proc.kill()  # as go-plugin does to a provider that does not stop
    assert killed.proc.wait(timeout=10) == -signal.SIGKILL
    assert wait_gone(provider, timeout=8), "the provider outlived its launcher"
    assert warm_server_pids(runtime) == [server]

    interrupted = client.start()
    _, provider = served_by(interrupted)
    assert answers_schema(client, interrupted)
    interrupted.proc.send_signal(signal.SIGINT)  # Ctrl-C is for Terraform: not forwarded
    assert answers_schema(client, interrupted) and interrupted.proc.poll() is None
    interrupted.proc.send_signal(signal.SIGTERM)  # forwarded
    assert interrupted.proc.wait(timeout=10) == 0  # the provider's own clean stop, its status
    assert wait_gone(provider, timeout=2)


def test_a_runtime_folder_open_to_others_is_not_used(client: PluginClient, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    started = client.start(PHOTON_WARM_START_DIR=str(shared))
    assert answers_schema(client, started)  # the plain start serves
    started.proc.send_signal(signal.SIGTERM)
    assert started.proc.wait(timeout=10) == 0
    said = started.proc.stderr.read().decode()  # type: ignore[union-attr]
    assert f"warm start unavailable, starting the plain way: {shared} is open to others" in said
    assert list(shared.iterdir()) == []


def test_when_no_server_can_start_every_start_is_plain(client: PluginClient) -> None:
    runtime = Path(client.env["PHOTON_WARM_START_DIR"])
    runtime.mkdir(mode=0o700)
    Path(server_paths(str(runtime))["lock"]).mkdir()  # where the server's lock file goes
    for _ in range(2):
        started = client.start()
        assert answers_schema(client, started)
        started.proc.send_signal(signal.SIGTERM)
        assert started.proc.wait(timeout=10) == 0
        said = started.proc.stderr.read()  # type: ignore[union-attr]
        assert b"no current warm-start server: started one" in said
        time.sleep(1)  # the server it started has failed by now
    assert warm_server_pids(runtime) == []
    assert "IsADirectoryError" in Path(server_paths(str(runtime))["log"]).read_text()


def test_an_idle_server_exits_and_takes_its_socket_along(client: PluginClient) -> None:
    runtime = Path(client.env["PHOTON_WARM_START_DIR"])
    started = client.start(PHOTON_WARM_START_IDLE="1")  # the server takes the starter's
    assert answers_schema(client, started)
    started.proc.send_signal(signal.SIGTERM)
    assert started.proc.wait(timeout=10) == 0
    server = wait_for_warm_server(runtime)
    assert wait_gone(server, timeout=10), "the idle server is still running"
    assert list(runtime.glob("*.sock")) == []
