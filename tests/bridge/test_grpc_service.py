"""The Provider service's contract with Terraform, with a tiny provider written for the test."""

from __future__ import annotations

import datetime
from typing import ClassVar

from provider.bridge._generated import tfplugin6_pb2 as pb
from provider.bridge.api import (
    ApplyRequest,
    ApplyResponse,
    CloseEphemeralRequest,
    EphemeralResource,
    OpenEphemeralRequest,
    OpenEphemeralResponse,
    Provider,
    ReadRequest,
    ReadResponse,
    RenewEphemeralRequest,
    RenewEphemeralResponse,
    Resource,
)
from provider.bridge.convert import decode_dynamic, encode_dynamic
from provider.bridge.cty import STRING, UNKNOWN, Path, Value
from provider.bridge.diagnostics import DiagnosticError, Diagnostics
from provider.bridge.grpc_service import ProviderService
from provider.bridge.schema import Attribute, Block, Schema
from provider.bridge.validators import matches


class Thing(Resource):
    type_name: ClassVar[str] = "test_thing"
    schema: ClassVar[Schema] = Schema(
        Block(
            attributes=(
                Attribute("name", STRING, required=True),
                Attribute("made", STRING, computed=True),
            )
        )
    )

    def create(self, request: ApplyRequest, response: ApplyResponse) -> None:
        name = request.planned_state["name"].to_python()
        if name == "half":  # made something, then failed: the state must say so
            response.new_state = Value.from_python(T, {"name": name, "made": "part"})
            raise DiagnosticError("Second step failed", "try again")
        if name == "lazy":
            return  # leaves "made" unknown: a provider bug
        raise RuntimeError("boom")

    def read(self, request: ReadRequest, response: ReadResponse) -> None:
        raise RuntimeError("kaput")

    def update(self, request: ApplyRequest, response: ApplyResponse) -> None: ...

    def delete(self, request: ApplyRequest, response: ApplyResponse) -> None:
        raise DiagnosticError("Cannot delete", "it is in use")


LEASE_END = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)


class Lease(EphemeralResource):
    """Opens a secret for a known holder; renewals are counted in the private data."""

    type_name: ClassVar[str] = "test_lease"
    schema: ClassVar[Schema] = Schema(
        Block(
            attributes=(
                Attribute("holder", STRING, required=True,
                          validators=(matches("[a-z]+", "Invalid holder", "lower-case letters"),)),
                Attribute("secret", STRING, computed=True, sensitive=True),
            )
        )
    )  # fmt: skip
    closed: ClassVar[list[bytes]] = []

    def open(self, request: OpenEphemeralRequest, response: OpenEphemeralResponse) -> None:
        holder = request.config["holder"].to_python()
        if holder == "nobody":
            raise DiagnosticError("No such holder", "ask someone else", Path.root().attr("holder"))
        response.result = request.config.with_attributes(
            {"secret": Value.from_python(STRING, f"s3cret-{holder}")}
        )
        response.private = b"renewed=0"
        response.renew_at = LEASE_END

    def renew(self, request: RenewEphemeralRequest, response: RenewEphemeralResponse) -> None:
        count = int(request.private.split(b"=")[1]) + 1
        response.private = f"renewed={count}".encode()
        response.renew_at = LEASE_END + datetime.timedelta(hours=count)

    def close(self, request: CloseEphemeralRequest, diagnostics: Diagnostics) -> None:
        self.closed.append(request.private)


class TinyProvider(Provider):
    name: ClassVar[str] = "tiny"
    schema: ClassVar[Schema] = Schema(Block())
    resources: ClassVar = {"test_thing": Thing}
    data_sources: ClassVar = {}
    ephemeral_resources: ClassVar = {"test_lease": Lease}

    def new_ephemeral_resource(self, type_name: str) -> EphemeralResource:
        return Lease()

    def configure(self, config: Value, diagnostics: Diagnostics) -> None: ...

    def new_resource(self, type_name: str) -> Resource:
        return Thing()

    def new_data_source(self, type_name: str):  # type: ignore[no-untyped-def]
        raise AssertionError


T = Thing.schema.value_type()
L = Lease.schema.value_type()
SERVICE = ProviderService(TinyProvider())


def apply(prior: Value, planned: Value) -> pb.ApplyResourceChange.Response:
    request = pb.ApplyResourceChange.Request(
        type_name="test_thing",
        prior_state=encode_dynamic(prior),
        planned_state=encode_dynamic(planned),
        config=encode_dynamic(planned if not planned.is_null else prior),
    )
    return SERVICE.ApplyResourceChange(request, None)


def test_partial_create_returns_what_exists_with_the_error() -> None:
    planned = Value.from_python(T, {"name": "half", "made": UNKNOWN})
    response = apply(Value.null(T), planned)
    assert [d.summary for d in response.diagnostics] == ["Second step failed"]
    assert decode_dynamic(response.new_state, T).to_python() == {"name": "half", "made": "part"}


def test_a_crash_becomes_one_diagnostic_and_the_prior_state() -> None:
    planned = Value.from_python(T, {"name": "x", "made": UNKNOWN})
    response = apply(Value.null(T), planned)
    (diagnostic,) = response.diagnostics
    assert diagnostic.summary == "Internal error in the tiny provider"
    assert "ApplyResourceChange failed: RuntimeError: boom" in diagnostic.detail
    assert "Traceback" not in diagnostic.detail
    assert decode_dynamic(response.new_state, T).is_null


def test_unknown_values_left_after_apply_are_reported() -> None:
    planned = Value.from_python(T, {"name": "lazy", "made": UNKNOWN})
    response = apply(Value.null(T), planned)
    assert [d.summary for d in response.diagnostics] == ["Provider left values unknown after apply"]
    assert decode_dynamic(response.new_state, T).is_null


def test_a_refused_delete_keeps_the_resource_in_state() -> None:
    prior = Value.from_python(T, {"name": "x", "made": "yes"})
    response = apply(prior, Value.null(T))
    assert [d.summary for d in response.diagnostics] == ["Cannot delete"]
    assert decode_dynamic(response.new_state, T) == prior


def test_a_failed_read_keeps_the_state() -> None:
    prior = Value.from_python(T, {"name": "x", "made": "yes"})
    request = pb.ReadResource.Request(type_name="test_thing", current_state=encode_dynamic(prior))
    response = SERVICE.ReadResource(request, None)
    assert response.diagnostics[0].summary == "Internal error in the tiny provider"
    assert decode_dynamic(response.new_state, T) == prior


def test_state_from_an_older_schema_drops_removed_attributes() -> None:
    raw = pb.RawState(json=b'{"name": "x", "made": "yes", "retired": 1}')
    request = pb.UpgradeResourceState.Request(type_name="test_thing", version=0, raw_state=raw)
    response = SERVICE.UpgradeResourceState(request, None)
    assert not response.diagnostics
    assert decode_dynamic(response.upgraded_state, T).to_python() == {"name": "x", "made": "yes"}


def test_state_from_a_newer_provider_is_refused() -> None:
    raw = pb.RawState(json=b'{"name": "x", "made": "yes"}')
    request = pb.UpgradeResourceState.Request(type_name="test_thing", version=3, raw_state=raw)
    response = SERVICE.UpgradeResourceState(request, None)
    assert response.diagnostics[0].summary == "State written by a newer provider"


def test_a_failed_update_reports_the_prior_state() -> None:
    prior = Value.from_python(T, {"name": "x", "made": "yes"})
    planned = Value.from_python(T, {"name": "y", "made": "yes"})

    def failing_update(self: Thing, request: ApplyRequest, response: ApplyResponse) -> None:
        raise DiagnosticError("Platform records are locked", "retry")

    original = Thing.update
    Thing.update = failing_update  # type: ignore[method-assign]
    try:
        response = apply(prior, planned)
    finally:
        Thing.update = original  # type: ignore[method-assign]
    assert [d.summary for d in response.diagnostics] == ["Platform records are locked"]
    assert decode_dynamic(response.new_state, T) == prior  # nothing claimed as done


def test_pre_012_flatmap_state_gets_its_own_diagnostic() -> None:
    raw = pb.RawState(flatmap={"name": "x"})
    request = pb.UpgradeResourceState.Request(type_name="test_thing", version=0, raw_state=raw)
    response = SERVICE.UpgradeResourceState(request, None)
    assert [d.summary for d in response.diagnostics] == ["State in a pre-0.12 format"]


def test_ephemeral_types_are_announced_with_their_schemas() -> None:
    metadata = SERVICE.GetMetadata(pb.GetMetadata.Request(), None)
    assert [e.type_name for e in metadata.ephemeral_resources] == ["test_lease"]
    schema = SERVICE.GetProviderSchema(pb.GetProviderSchema.Request(), None)
    secret = schema.ephemeral_resource_schemas["test_lease"].block.attributes[1]
    assert (secret.name, secret.computed, secret.sensitive) == ("secret", True, True)


def test_ephemeral_config_is_validated_by_the_schema_with_the_path() -> None:
    config = Value.from_python(L, {"holder": "Bob", "secret": None})
    request = pb.ValidateEphemeralResourceConfig.Request(
        type_name="test_lease", config=encode_dynamic(config)
    )
    (diagnostic,) = SERVICE.ValidateEphemeralResourceConfig(request, None).diagnostics
    assert diagnostic.summary == "Invalid holder"
    assert diagnostic.detail == "'Bob' is not valid: lower-case letters"
    assert diagnostic.attribute.steps[0].attribute_name == "holder"


def open_lease(holder: str) -> pb.OpenEphemeralResource.Response:
    config = Value.from_python(L, {"holder": holder, "secret": None})
    request = pb.OpenEphemeralResource.Request(
        type_name="test_lease", config=encode_dynamic(config)
    )
    return SERVICE.OpenEphemeralResource(request, None)


def test_open_returns_result_private_data_and_renewal_time() -> None:
    opened = open_lease("ann")
    assert not opened.diagnostics
    assert decode_dynamic(opened.result, L).to_python() == {"holder": "ann", "secret": "s3cret-ann"}
    assert opened.private == b"renewed=0"
    assert opened.renew_at.ToDatetime(datetime.UTC) == LEASE_END


def test_a_refused_open_returns_only_the_diagnostic() -> None:
    opened = open_lease("nobody")
    assert [d.summary for d in opened.diagnostics] == ["No such holder"]
    assert not opened.HasField("result") and not opened.HasField("renew_at")


def test_renew_and_close_get_the_private_data_back() -> None:
    request = pb.RenewEphemeralResource.Request(type_name="test_lease", private=b"renewed=0")
    renewed = SERVICE.RenewEphemeralResource(request, None)
    assert renewed.private == b"renewed=1"
    assert renewed.renew_at.ToDatetime(datetime.UTC) == LEASE_END + datetime.timedelta(hours=1)
    close = pb.CloseEphemeralResource.Request(type_name="test_lease", private=renewed.private)
    assert not SERVICE.CloseEphemeralResource(close, None).diagnostics
    assert Lease.closed[-1] == b"renewed=1"


def test_an_ephemeral_resource_without_renewal_sets_no_time() -> None:
    response = RenewEphemeralResponse(b"")
    EphemeralResource.renew(Lease(), RenewEphemeralRequest(b""), response)  # the default
    assert response.renew_at is None and not response.diagnostics
    request = pb.CloseEphemeralResource.Request(type_name="test_nothing")
    (diagnostic,) = SERVICE.CloseEphemeralResource(request, None).diagnostics
    assert diagnostic.summary == "Unknown ephemeral resource type 'test_nothing'"
