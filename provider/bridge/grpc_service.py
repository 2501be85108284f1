"""The gRPC services Terraform talks to: tfplugin6.Provider, GRPCController, GRPCStdio.

Every Provider RPC takes the same steps (see ``_Call``): name the call for the logs, decode
with the schema's type, call the provider, turn any stray exception into one error diagnostic
(the traceback goes to the debug log, never to the user), encode.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from types import TracebackType
from typing import Any

import grpc

from ._generated import grpc_controller_pb2 as controller_pb
from ._generated import grpc_controller_pb2_grpc as controller_grpc
from ._generated import grpc_stdio_pb2_grpc as stdio_grpc
from ._generated import tfplugin6_pb2 as pb
from ._generated import tfplugin6_pb2_grpc as pb_grpc
from .api import (
    ApplyRequest,
    ApplyResponse,
    CloseEphemeralRequest,
    DataSource,
    EphemeralResource,
    ImportResponse,
    OpenEphemeralRequest,
    OpenEphemeralResponse,
    PlanRequest,
    Provider,
    ReadDataRequest,
    ReadRequest,
    ReadResponse,
    RenewEphemeralRequest,
    RenewEphemeralResponse,
    Resource,
)
from .convert import (
    decode_dynamic,
    decode_raw_state,
    diagnostics_to_proto,
    encode_dynamic,
    path_to_proto,
    schema_to_proto,
)
from .cty import CodecError, Value
from .diagnostics import DiagnosticError, Diagnostics
from .logs import log_context
from .planning import defaults, plan_from_schema
from .schema import Schema, validate_attributes

__all__ = ["start_grpc_server"]

log = logging.getLogger("provider.bridge")
_MAX_MESSAGE = 256 * 1024 * 1024
# plan_destroy: Terraform plans destroys too, so a destroy that cannot work fails its plan.
_CAPABILITIES = pb.ServerCapabilities(get_provider_schema_optional=True, plan_destroy=True)


class _Call:
    """Context of one RPC: its diagnostics, and the rule that no exception escapes."""

    def __init__(self, provider_name: str, rpc: str, type_name: str = "") -> None:
        self.provider_name = provider_name
        self.rpc = rpc
        self.type_name = type_name
        self.diagnostics = Diagnostics()
        self._started = 0.0

    def __enter__(self) -> _Call:
        self._started = time.perf_counter()
        log.debug(
            "Received request", **log_context(tf_rpc=self.rpc, tf_resource_type=self.type_name)
        )
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        context = {"tf_rpc": self.rpc, "tf_resource_type": self.type_name}
        if isinstance(exc, DiagnosticError):
            self.diagnostics.add(exc.diagnostic)
        elif isinstance(exc, CodecError):
            self.diagnostics.error("Invalid value from Terraform", exc.message, exc.path)
        elif exc is not None and not isinstance(exc, Exception):
            return False  # KeyboardInterrupt and friends are not ours to swallow
        elif exc is not None:
            log.debug("Unexpected error", exc_info=(kind, exc, tb), **log_context(**context))
            self.diagnostics.error(
                f"Internal error in the {self.provider_name} provider",
                f"{self.rpc} failed: {type(exc).__name__}: {exc}. This is a bug in the provider; "
                "run with TF_LOG=debug to see the traceback and report it.",
            )
        elapsed_ms = round((time.perf_counter() - self._started) * 1000, 2)
        for d in self.diagnostics:
            log.debug(
                "Diagnostic: %s", d.summary, **log_context(severity=d.severity.name, **context)
            )
        log.debug("Served request", **log_context(duration_ms=elapsed_ms, **context))
        return True  # the diagnostics carry the failure to Terraform

    @property
    def proto_diagnostics(self) -> list[pb.Diagnostic]:
        return diagnostics_to_proto(self.diagnostics)


def _unknown_type(provider_name: str, kind: str, type_name: str) -> DiagnosticError:
    return DiagnosticError(
        f"Unknown {kind} type {type_name!r}",
        f"The {provider_name} provider has no {kind} of that type. Check the spelling, and that "
        "the provider version in your lock file is the one you expect.",
    )


def _validate(
    schema: Schema,
    config: pb.DynamicValue,
    cross_check: Callable[[Value, Diagnostics], None],
    diagnostics: Diagnostics,
) -> None:
    """Per-attribute validators of the schema on known values, then the owner's own checks."""
    value = decode_dynamic(config, schema.value_type())
    validate_attributes(schema.block, value, diagnostics)
    cross_check(value, diagnostics)


def _without_unknown_attributes(schema: Schema) -> Callable[[bytes], bytes]:
    """State written by an older provider may hold attributes since removed: drop them."""
    known = set(schema.value_type().attrs)

    def clean(raw_json: bytes) -> bytes:
        data = json.loads(raw_json)
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k in known}
        return json.dumps(data).encode()

    return clean


class ProviderService(pb_grpc.ProviderServicer):
    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    def _call(self, rpc: str, type_name: str = "") -> _Call:
        return _Call(self._provider.name, rpc, type_name)

    def _resource_schema(self, type_name: str) -> Schema:
        cls = self._provider.resources.get(type_name)
        if cls is None:
            raise _unknown_type(self._provider.name, "resource", type_name)
        return cls.schema

    def _data_source_schema(self, type_name: str) -> Schema:
        cls = self._provider.data_sources.get(type_name)
        if cls is None:
            raise _unknown_type(self._provider.name, "data source", type_name)
        return cls.schema

    def _ephemeral_class(self, type_name: str) -> type[EphemeralResource]:
        cls = self._provider.ephemeral_resources.get(type_name)
        if cls is None:
            raise _unknown_type(self._provider.name, "ephemeral resource", type_name)
        return cls

    def _ephemeral_resource(self, type_name: str) -> EphemeralResource:
        self._ephemeral_class(type_name)
        return self._provider.new_ephemeral_resource(type_name)

    def _resource(self, type_name: str) -> Resource:
        self._resource_schema(type_name)
        return self._provider.new_resource(type_name)

    def _data_source(self, type_name: str) -> DataSource:
        self._data_source_schema(type_name)
        return self._provider.new_data_source(type_name)

    def GetMetadata(self, request: Any, context: Any) -> pb.GetMetadata.Response:
        with self._call("GetMetadata") as call:
            return pb.GetMetadata.Response(
                server_capabilities=_CAPABILITIES,
                resources=[
                    pb.GetMetadata.ResourceMetadata(type_name=n) for n in self._provider.resources
                ],
                data_sources=[
                    pb.GetMetadata.DataSourceMetadata(type_name=n)
                    for n in self._provider.data_sources
                ],
                ephemeral_resources=[
                    pb.GetMetadata.EphemeralMetadata(type_name=n)
                    for n in self._provider.ephemeral_resources
                ],
            )
        return pb.GetMetadata.Response(diagnostics=call.proto_diagnostics)

    def GetProviderSchema(self, request: Any, context: Any) -> pb.GetProviderSchema.Response:
        with self._call("GetProviderSchema") as call:
            p = self._provider
            return pb.GetProviderSchema.Response(
                provider=schema_to_proto(p.schema),
                resource_schemas={n: schema_to_proto(c.schema) for n, c in p.resources.items()},
                data_source_schemas={
                    n: schema_to_proto(c.schema) for n, c in p.data_sources.items()
                },
                ephemeral_resource_schemas={
                    n: schema_to_proto(c.schema) for n, c in p.ephemeral_resources.items()
                },
                server_capabilities=_CAPABILITIES,
            )
        return pb.GetProviderSchema.Response(diagnostics=call.proto_diagnostics)

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        with self._call("ValidateProviderConfig") as call:
            p = self._provider
            _validate(p.schema, request.config, p.validate_config, call.diagnostics)
        return pb.ValidateProviderConfig.Response(diagnostics=call.proto_diagnostics)

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        with self._call("ValidateResourceConfig", request.type_name) as call:
            schema = self._resource_schema(request.type_name)
            check = self._provider.resources[request.type_name].validate_config
            _validate(schema, request.config, check, call.diagnostics)
        return pb.ValidateResourceConfig.Response(diagnostics=call.proto_diagnostics)

    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        with self._call("ValidateDataResourceConfig", request.type_name) as call:
            schema = self._data_source_schema(request.type_name)
            check = self._provider.data_sources[request.type_name].validate_config
            _validate(schema, request.config, check, call.diagnostics)
        return pb.ValidateDataResourceConfig.Response(diagnostics=call.proto_diagnostics)

    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        with self._call("ConfigureProvider") as call:
            config = decode_dynamic(request.config, self._provider.schema.value_type())
            self._provider.configure(config, call.diagnostics)
        return pb.ConfigureProvider.Response(diagnostics=call.proto_diagnostics)

    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        with self._call("UpgradeResourceState", request.type_name) as call:
            schema = self._resource_schema(request.type_name)
            if request.version > schema.version:
                raise DiagnosticError(
                    "State written by a newer provider",
                    f"This {request.type_name} was saved by a provider with schema version "
                    f"{request.version}; this provider knows version {schema.version}. "
                    "Upgrade the provider.",
                )
            state = decode_raw_state(
                request.raw_state, schema.value_type(), _without_unknown_attributes(schema)
            )
            return pb.UpgradeResourceState.Response(upgraded_state=encode_dynamic(state))
        return pb.UpgradeResourceState.Response(diagnostics=call.proto_diagnostics)

    def ReadResource(self, request: Any, context: Any) -> Any:
        response: ReadResponse | None = None
        with self._call("ReadResource", request.type_name) as call:
            resource = self._resource(request.type_name)
            state = decode_dynamic(request.current_state, resource.schema.value_type())
            response = ReadResponse(state, request.private, call.diagnostics)
            resource.read(ReadRequest(state, request.private), response)
        if response is None:
            return pb.ReadResource.Response(diagnostics=call.proto_diagnostics)
        return pb.ReadResource.Response(
            new_state=encode_dynamic(response.new_state),
            private=response.private,
            diagnostics=call.proto_diagnostics,
        )

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        with self._call("PlanResourceChange", request.type_name) as call:
            resource = self._resource(request.type_name)
            object_type = resource.schema.value_type()
            plan_request = PlanRequest(
                prior_state=decode_dynamic(request.prior_state, object_type),
                proposed_new_state=decode_dynamic(request.proposed_new_state, object_type),
                config=decode_dynamic(request.config, object_type),
                prior_private=request.prior_private,
            )
            response = plan_from_schema(resource.schema, plan_request)
            response.diagnostics = call.diagnostics
            if plan_request.destroying:
                resource.plan_destroy(plan_request, response)
            else:
                resource.modify_plan(plan_request, response)
            return pb.PlanResourceChange.Response(
                planned_state=encode_dynamic(response.planned_state),
                requires_replace=[path_to_proto(p) for p in response.requires_replace],
                planned_private=response.planned_private,
                diagnostics=call.proto_diagnostics,
            )
        return pb.PlanResourceChange.Response(diagnostics=call.proto_diagnostics)

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        apply_request: ApplyRequest | None = None
        response: ApplyResponse | None = None
        with self._call("ApplyResourceChange", request.type_name) as call:
            resource = self._resource(request.type_name)
            object_type = resource.schema.value_type()
            apply_request = ApplyRequest(
                prior_state=decode_dynamic(request.prior_state, object_type),
                planned_state=decode_dynamic(request.planned_state, object_type),
                config=decode_dynamic(request.config, object_type),
                planned_private=request.planned_private,
            )
            response = ApplyResponse(
                apply_request.planned_state, request.planned_private, call.diagnostics
            )
            if apply_request.planned_state.is_null:
                response.new_state = apply_request.prior_state  # until the delete succeeds
                resource.delete(apply_request, response)
            elif apply_request.prior_state.is_null:
                resource.create(apply_request, response)
            else:
                response.new_state = apply_request.prior_state  # until the update succeeds
                resource.update(apply_request, response)
        if apply_request is None or response is None:
            return pb.ApplyResourceChange.Response(diagnostics=call.proto_diagnostics)
        # Whatever happened, tell Terraform what exists now: it must never forget.
        new_state = response.new_state
        if not new_state.is_fully_known():
            if not call.diagnostics.has_errors:
                call.diagnostics.error(
                    "Provider left values unknown after apply",
                    f"This is a bug in the {self._provider.name} provider ({request.type_name}); "
                    "please report it.",
                )
            new_state = apply_request.prior_state
        return pb.ApplyResourceChange.Response(
            new_state=encode_dynamic(new_state),
            private=response.private,
            diagnostics=call.proto_diagnostics,
        )

    def ImportResourceState(self, request: Any, context: Any) -> Any:
        with self._call("ImportResourceState", request.type_name) as call:
            resource = self._resource(request.type_name)
            response = ImportResponse(diagnostics=call.diagnostics)
            resource.import_state(request.id, response)
            return pb.ImportResourceState.Response(
                imported_resources=[
                    pb.ImportResourceState.ImportedResource(
                        type_name=request.type_name,
                        state=encode_dynamic(state),
                        private=response.private,
                    )
                    for state in response.states
                ],
                diagnostics=call.proto_diagnostics,
            )
        return pb.ImportResourceState.Response(diagnostics=call.proto_diagnostics)

    def MoveResourceState(self, request: Any, context: Any) -> Any:
        return self._not_served(
            "MoveResourceState",
            pb.MoveResourceState.Response,
            f"Moving state between resource types is not supported by the "
            f"{self._provider.name} provider; use `terraform import` instead.",
        )

    def ReadDataSource(self, request: Any, context: Any) -> Any:
        with self._call("ReadDataSource", request.type_name) as call:
            source = self._data_source(request.type_name)
            config = decode_dynamic(request.config, source.schema.value_type())
            state = source.read(ReadDataRequest(config), call.diagnostics)
            return pb.ReadDataSource.Response(
                state=encode_dynamic(state), diagnostics=call.proto_diagnostics
            )
        return pb.ReadDataSource.Response(diagnostics=call.proto_diagnostics)

    def _not_served(self, rpc: str, response_type: Callable[..., Any], detail: str) -> Any:
        with self._call(rpc) as call:
            call.diagnostics.error(f"{rpc} is not supported", detail)
        return response_type(diagnostics=call.proto_diagnostics)

    def ValidateEphemeralResourceConfig(self, request: Any, context: Any) -> Any:
        with self._call("ValidateEphemeralResourceConfig", request.type_name) as call:
            cls = self._ephemeral_class(request.type_name)
            _validate(cls.schema, request.config, cls.validate_config, call.diagnostics)
        return pb.ValidateEphemeralResourceConfig.Response(diagnostics=call.proto_diagnostics)

    def OpenEphemeralResource(self, request: Any, context: Any) -> Any:
        with self._call("OpenEphemeralResource", request.type_name) as call:
            resource = self._ephemeral_resource(request.type_name)
            config = decode_dynamic(request.config, resource.schema.value_type())
            config = config.with_attributes(defaults(resource.schema, config))
            response = OpenEphemeralResponse(config, diagnostics=call.diagnostics)
            resource.open(OpenEphemeralRequest(config), response)
            if call.diagnostics.has_errors:
                return pb.OpenEphemeralResource.Response(diagnostics=call.proto_diagnostics)
            return pb.OpenEphemeralResource.Response(
                result=encode_dynamic(response.result),
                private=response.private,
                renew_at=response.renew_at,
                diagnostics=call.proto_diagnostics,
            )
        return pb.OpenEphemeralResource.Response(diagnostics=call.proto_diagnostics)

    def RenewEphemeralResource(self, request: Any, context: Any) -> Any:
        with self._call("RenewEphemeralResource", request.type_name) as call:
            resource = self._ephemeral_resource(request.type_name)
            response = RenewEphemeralResponse(request.private, diagnostics=call.diagnostics)
            resource.renew(RenewEphemeralRequest(request.private), response)
            return pb.RenewEphemeralResource.Response(
                private=response.private,
                renew_at=response.renew_at,
                diagnostics=call.proto_diagnostics,
            )
        return pb.RenewEphemeralResource.Response(diagnostics=call.proto_diagnostics)

    def CloseEphemeralResource(self, request: Any, context: Any) -> Any:
        with self._call("CloseEphemeralResource", request.type_name) as call:
            resource = self._ephemeral_resource(request.type_name)
            resource.close(CloseEphemeralRequest(request.private), call.diagnostics)
        return pb.CloseEphemeralResource.Response(diagnostics=call.proto_diagnostics)

    def GetFunctions(self, request: Any, context: Any) -> Any:
        return pb.GetFunctions.Response()

    def CallFunction(self, request: Any, context: Any) -> Any:
        return pb.CallFunction.Response(
            error=pb.FunctionError(
                text=f"The {self._provider.name} provider has no function {request.name!r}."
            )
        )

    def StopProvider(self, request: Any, context: Any) -> Any:
        log.info("Terraform asked the provider to stop in-flight work")
        self._provider.stop()
        return pb.StopProvider.Response()


class ControllerService(controller_grpc.GRPCControllerServicer):
    def __init__(self, on_shutdown: Callable[[], None] | None) -> None:
        self._on_shutdown = on_shutdown

    def Shutdown(self, request: Any, context: Any) -> Any:
        if self._on_shutdown is not None:
            self._on_shutdown()
        return controller_pb.Empty()


class StdioService(stdio_grpc.GRPCStdioServicer):
    """Our output already reaches Terraform through stderr, so the stream stays empty. It is
    held open until the client goes away or the server stops (both end the RPC), because
    go-plugin treats an ended stream as a broken plugin; holding it longer would pin a
    worker thread for good in reattach mode, where one process serves many commands."""

    def StreamStdio(self, request: Any, context: Any) -> Iterator[Any]:
        ended = threading.Event()
        if context.add_callback(ended.set):
            ended.wait()
        return iter(())


def start_grpc_server(
    provider: Provider,
    address: str,
    *,
    on_shutdown: Callable[[], None] | None,
) -> grpc.Server:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="rpc"),
        options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
        ],
    )
    pb_grpc.add_ProviderServicer_to_server(ProviderService(provider), server)
    controller_grpc.add_GRPCControllerServicer_to_server(ControllerService(on_shutdown), server)
    stdio_grpc.add_GRPCStdioServicer_to_server(StdioService(), server)
    server.add_insecure_port(address)
    server.start()
    return server
