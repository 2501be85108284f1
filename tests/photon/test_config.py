"""The provider block and its PHOTON_* fallbacks, as pure functions."""

from __future__ import annotations

from provider.bridge.cty import Path, Value
from provider.bridge.diagnostics import Diagnostics
from provider.bridge.schema import validate_attributes
from provider.esxi.endpoint import Endpoint
from provider.photon.config import endpoints_from_config, records_url, validate_hosts
from provider.photon.provider import PhotonProvider

T = PhotonProvider.schema.value_type()
TP = "AB:" * 31 + "AB"


def config(*hosts: dict[str, object]) -> Value:
    fields = ("name", "address", "user", "password", "thumbprint", "insecure")
    return Value.from_python(T, {"host": [{f: h.get(f) for f in fields} for h in hosts]})


def endpoints(cfg: Value, env: dict[str, str]) -> tuple[list[Endpoint], list[str]]:
    diagnostics = Diagnostics()
    result = endpoints_from_config(cfg, env, diagnostics)
    return result, [f"{d.summary} @ {d.path}" for d in diagnostics]


def test_host_blocks_with_defaults() -> None:
    result, errors = endpoints(
        config({"name": "a", "address": "h1", "password": "p", "thumbprint": TP}), {}
    )
    assert errors == []
    assert result == [Endpoint("a", "h1", "root", "p", TP, False)]


def test_environment_fills_in_a_single_host() -> None:
    env = {"PHOTON_USER": "admin", "PHOTON_PASSWORD": "pw", "PHOTON_THUMBPRINT": TP}
    result, _ = endpoints(config({"name": "a", "address": "h1"}), env)
    assert result == [Endpoint("a", "h1", "admin", "pw", TP, False)]


def test_environment_alone_describes_one_host() -> None:
    env = {"PHOTON_HOST": "h9:8443", "PHOTON_PASSWORD": "pw", "PHOTON_INSECURE": "true"}
    result, _ = endpoints(config(), env)
    assert result == [Endpoint("esx-1", "h9:8443", "root", "pw", None, True)]


def test_thumbprint_from_the_environment_is_for_a_single_host_only() -> None:
    env = {"PHOTON_PASSWORD": "pw", "PHOTON_THUMBPRINT": TP}
    result, _ = endpoints(config({"name": "a", "address": "1"}, {"name": "b", "address": "2"}), env)
    assert [e.thumbprint for e in result] == [None, None]


def test_missing_password_and_missing_hosts() -> None:
    _, errors = endpoints(config({"name": "a", "address": "h1"}), {})
    assert errors == ["No password for ESXi host @ host[0].password"]
    _, errors = endpoints(config(), {})
    assert errors == ["No ESXi host configured @ host"]


def test_validation_of_host_blocks() -> None:
    diagnostics = Diagnostics()
    cfg = config(
        {"name": "a", "address": "1", "thumbprint": "xyz"},
        {"name": "a", "address": "2", "thumbprint": TP, "insecure": True},
    )
    validate_attributes(PhotonProvider.schema.block, cfg, diagnostics)  # as the bridge does
    validate_hosts(cfg, diagnostics)
    assert [f"{d.summary} @ {d.path}" for d in diagnostics] == [
        "Invalid thumbprint @ host[0].thumbprint",
        "Duplicate host name @ host[1].name",
        "Conflicting TLS settings @ host[1].insecure",
    ]


def test_endpoint_addresses() -> None:
    def host_port(address: str) -> tuple[str, int]:
        return Endpoint("n", address, "u", "p").host_port

    assert host_port("10.0.0.5") == ("10.0.0.5", 443)
    assert host_port("esx:8443") == ("esx", 8443)
    assert host_port("[fd00::5]:9443") == ("fd00::5", 9443)
    assert host_port("[fd00::5]") == ("fd00::5", 443)
    assert host_port("fd00::5") == ("fd00::5", 443)


def test_password_is_not_in_an_endpoints_repr() -> None:
    assert "secret" not in repr(Endpoint("n", "a", "u", "secret"))


def test_records_in_postgres_and_on_a_datastore_at_once_are_refused() -> None:
    host = {"name": "a", "address": "h1", "password": "p", "thumbprint": TP}
    both = config(host).with_attributes(
        {
            "records_host": Value.from_python(T.attrs["records_host"], "a"),  # type: ignore[attr-defined]
            "records": Value.from_python(
                T.attrs["records"],  # type: ignore[attr-defined]
                {"postgres": "postgres://u@127.0.0.1/db"},
            ),
        }
    )
    configured = Diagnostics()
    validate_hosts(both, configured)
    assert [(d.summary, d.detail, str(d.path)) for d in configured] == [
        (
            "Conflicting records settings",
            "records_host places the platform records on a datastore, records.postgres in "
            "PostgreSQL: set one of them (and the same in every configuration).",
            str(Path.root().attr("records_host")),
        )
    ]
    from_environment = Diagnostics()
    url, where = records_url(
        both.with_attributes({"records": Value.null(T.attrs["records"])}),  # type: ignore[attr-defined]
        {"PHOTON_RECORDS_URL": "postgres://u@127.0.0.1/db"},
        from_environment,
    )
    assert (url, where) == ("postgres://u@127.0.0.1/db", None)
    assert [d.detail for d in from_environment] == [
        "records_host places the platform records on a datastore, PHOTON_RECORDS_URL in "
        "PostgreSQL: unset one of them."
    ]


def test_the_bridge_speaks_of_the_photon_provider() -> None:
    """The bridge names no domain: the provider hands it its name, the one in its address."""
    from provider.__main__ import PROVIDER_ADDRESS
    from provider.bridge._generated import tfplugin6_pb2 as pb
    from provider.bridge.grpc_service import ProviderService

    assert PROVIDER_ADDRESS.rsplit("/", 1)[-1] == PhotonProvider.name == "photon"
    service = ProviderService(PhotonProvider())
    read = service.ReadResource(pb.ReadResource.Request(type_name="photon_nothing"), None)
    assert read.diagnostics[0].detail == (
        "The photon provider has no resource of that type. Check the spelling, and that the "
        "provider version in your lock file is the one you expect."
    )
    moved = service.MoveResourceState(pb.MoveResourceState.Request(), None)
    assert moved.diagnostics[0].detail == (
        "Moving state between resource types is not supported by the photon provider; use "
        "`terraform import` instead."
    )
