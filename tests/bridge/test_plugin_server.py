"""The provider process as go-plugin sees it: handshake, TLS both ways, prompt exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from provider.bridge._generated import grpc_controller_pb2 as controller_pb
from provider.bridge._generated import grpc_controller_pb2_grpc as controller_grpc
from provider.bridge._generated import tfplugin6_pb2 as pb
from provider.bridge._generated import tfplugin6_pb2_grpc as pb_grpc
from provider.bridge.certs import ServerIdentity, make_server_identity
from provider.bridge.plugin_server import (
    MAGIC_COOKIE_KEY,
    MAGIC_COOKIE_VALUE,
    HandshakeError,
    negotiate_protocol,
)
from tests.support.plugin_client import PluginClient, Started
from tests.support.reattach import start_reattached


@pytest.fixture
def client() -> PluginClient:
    """Starts ``python -m provider`` as Terraform starts a provider."""
    return PluginClient([sys.executable, "-m", "provider"], dict(os.environ))


@pytest.fixture
def client_identity(client: PluginClient) -> ServerIdentity:
    return client.identity


@pytest.fixture
def plugin(client: PluginClient) -> Iterator[Started]:
    started = client.start()
    core, app, network, _, protocol, cert = started.handshake
    assert (core, app, network, protocol) == ("1", "6", "unix", "grpc")
    assert not cert.endswith("=")  # go-plugin wants base64 without padding
    yield started
    if started.proc.poll() is None:
        started.proc.kill()
        started.proc.wait()


def test_handshake_announces_a_fresh_p256_certificate_for_localhost(plugin: Started) -> None:
    cert = x509.load_pem_x509_certificate(plugin.server_pem)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    folder = os.path.dirname(plugin.address)
    assert os.stat(folder).st_mode & 0o777 == 0o700


def test_serves_schema_over_mutual_tls_and_exits_on_shutdown(
    plugin: Started, client_identity: ServerIdentity
) -> None:
    with plugin.channel(client_identity) as channel:
        schema = pb_grpc.ProviderStub(channel).GetProviderSchema(
            pb.GetProviderSchema.Request(), timeout=10
        )
        assert "photon_tenant" in schema.resource_schemas
        assert schema.server_capabilities.get_provider_schema_optional
        host = schema.provider.block.block_types[0]
        password = next(a for a in host.block.attributes if a.name == "password")
        assert password.sensitive

        controller_grpc.GRPCControllerStub(channel).Shutdown(controller_pb.Empty(), timeout=5)
    assert plugin.proc.wait(timeout=5) == 0
    assert not os.path.exists(os.path.dirname(plugin.address))  # private folder removed


def test_refuses_a_client_without_terraforms_certificate(plugin: Started) -> None:
    stranger = make_server_identity()
    for client in (None, stranger):
        with plugin.channel(client) as channel, pytest.raises(grpc.RpcError) as failure:
            pb_grpc.ProviderStub(channel).GetProviderSchema(
                pb.GetProviderSchema.Request(), timeout=5
            )
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE


def test_exits_promptly_on_sigterm(plugin: Started) -> None:
    plugin.proc.send_signal(signal.SIGTERM)
    assert plugin.proc.wait(timeout=5) == 0
    assert not os.path.exists(os.path.dirname(plugin.address))


def test_a_terminals_ctrl_c_is_for_terraform_not_the_provider(
    plugin: Started, client_identity: ServerIdentity
) -> None:
    """Ctrl-C reaches the whole process group; Terraform stops its providers through
    StopProvider, so the provider goes on serving (and ends its work at a safe point)."""
    plugin.proc.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        plugin.proc.wait(timeout=1)
    with plugin.channel(client_identity) as channel:
        schema = pb_grpc.ProviderStub(channel).GetProviderSchema(
            pb.GetProviderSchema.Request(), timeout=5
        )
    assert schema.provider.block is not None
    plugin.proc.send_signal(signal.SIGTERM)
    assert plugin.proc.wait(timeout=5) == 0


def test_unserved_rpcs_answer_with_a_diagnostic(
    plugin: Started, client_identity: ServerIdentity
) -> None:
    with plugin.channel(client_identity) as channel:
        stub = pb_grpc.ProviderStub(channel)
        moved = stub.MoveResourceState(pb.MoveResourceState.Request(), timeout=5)
        assert moved.diagnostics[0].summary == "MoveResourceState is not supported"
        opened = stub.OpenEphemeralResource(
            pb.OpenEphemeralResource.Request(type_name="photon_secret"), timeout=5
        )
        assert opened.diagnostics[0].summary == "Unknown ephemeral resource type 'photon_secret'"
        read = stub.ReadResource(pb.ReadResource.Request(type_name="photon_nothing"), timeout=5)
        assert read.diagnostics[0].summary == "Unknown resource type 'photon_nothing'"


def test_run_by_hand_explains_itself() -> None:
    env = {k: v for k, v in os.environ.items() if k != MAGIC_COOKIE_KEY}
    done = subprocess.run(
        [sys.executable, "-m", "provider"], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert "is a plugin for Terraform and is not meant to be run directly" in done.stderr
    assert done.stdout == ""


def test_negotiation() -> None:
    env = {MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_CLIENT_CERT": "pem"}
    assert negotiate_protocol({**env, "PLUGIN_PROTOCOL_VERSIONS": "6,5"}) == 6
    with pytest.raises(
        HandshakeError,
        match=r"protocol 6 only; this Terraform offers 5\. Use Terraform 1\.0 or newer",
    ):
        negotiate_protocol({**env, "PLUGIN_PROTOCOL_VERSIONS": "5"})
    with pytest.raises(HandshakeError, match="no client certificate"):
        negotiate_protocol({MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "6"})


def test_schema_start_imports_neither_host_nor_database_nor_cluster_code() -> None:
    """GetProviderSchema is served before pyVmomi, cryptography, psycopg or the cluster's
    planning code is imported; the deferred cluster class still loads when first used."""
    code = (
        "import sys\n"
        "import provider.bridge.plugin_server\n"
        "from provider.bridge._generated import tfplugin6_pb2 as pb\n"
        "from provider.bridge.grpc_service import ProviderService\n"
        "from provider.photon.provider import PhotonProvider\n"
        "service = ProviderService(PhotonProvider())\n"
        "answer = service.GetProviderSchema(pb.GetProviderSchema.Request(), None)\n"
        "assert not answer.diagnostics, answer.diagnostics\n"
        "assert 'nodes' in str(answer.resource_schemas['photon_k8s_cluster'])\n"
        "heavy = ('pyVmomi', 'pyVim', 'cryptography', 'psycopg',\n"
        "         'provider.photon.cluster.resource')\n"
        "bad = sorted(m for m in sys.modules if m in heavy or m.split('.')[0] in heavy)\n"
        "assert not bad, bad\n"
        "cls = PhotonProvider.resources['photon_k8s_cluster'].load()\n"
        "assert cls.type_name == 'photon_k8s_cluster', cls\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_reattach_mode_survives_many_clients_that_hold_stdio_streams() -> None:
    """Each Terraform command opens a stdio stream; ended clients must free their threads."""
    from google.protobuf import empty_pb2

    from provider.bridge._generated import grpc_stdio_pb2_grpc as stdio_grpc

    provider = start_reattached()
    try:
        socket_path = provider.socket
        for _ in range(40):  # more than the server's worker threads
            with grpc.insecure_channel(f"unix:{socket_path}") as channel:
                stream = stdio_grpc.GRPCStdioStub(channel).StreamStdio(empty_pb2.Empty())
                time.sleep(0.01)
                stream.cancel()
        with grpc.insecure_channel(f"unix:{socket_path}") as channel:
            schema = pb_grpc.ProviderStub(channel).GetProviderSchema(
                pb.GetProviderSchema.Request(), timeout=5
            )
        assert "photon_tenant" in schema.resource_schemas
    finally:
        assert provider.stop() == 0
