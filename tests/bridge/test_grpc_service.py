"""The Provider service's contract with Terraform, with a tiny provider written for the test."""

from __future__ import annotations

from typing import ClassVar

from provider.bridge._generated import tfplugin6_pb2 as pb
from provider.bridge.api import (
    ApplyRequest,
    ApplyResponse,
    Provider,
    ReadRequest,
    ReadResponse,
    Resource,
)
from provider.bridge.convert import decode_dynamic, encode_dynamic
from provider.bridge.cty import STRING, UNKNOWN, Value
from provider.bridge.diagnostics import DiagnosticError, Diagnostics
from provider.bridge.grpc_service import ProviderService
from provider.bridge.schema import Attribute, Block, Schema


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


class TinyProvider(Provider):
    schema: ClassVar[Schema] = Schema(Block())
    resources: ClassVar = {"test_thing": Thing}
    data_sources: ClassVar = {}

    def configure(self, config: Value, diagnostics: Diagnostics) -> None: ...

    def new_resource(self, type_name: str) -> Resource:
        return Thing()

    def new_data_source(self, type_name: str):  # type: ignore[no-untyped-def]
        raise AssertionError


T = Thing.schema.value_type()
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
    assert diagnostic.summary == "Internal error in the photon provider"
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
    assert response.diagnostics[0].summary == "Internal error in the photon provider"
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
