"""What a provider implements: plain request/response objects, no gRPC and no protobuf.

Each operation receives a request and fills a response that arrives pre-filled with the
obvious default (apply's new state starts as the planned state for a create and as the prior
state for an update or delete, so a failure before any change reports nothing changed; read's
as the prior state; plan's private data as the prior private data), so a resource only states
what differs.

Ephemeral resources (Terraform 1.10+) are opened, maybe renewed, and closed within one
Terraform run; their result is never written to a plan or state. ``private`` is what the
provider needs to renew or close what it opened: it travels through Terraform, not the state.
"""

from __future__ import annotations

import datetime
import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .cty import Path, Value
from .diagnostics import Diagnostics
from .schema import Schema

__all__ = [
    "ApplyRequest",
    "ApplyResponse",
    "CloseEphemeralRequest",
    "DataSource",
    "Deferred",
    "EphemeralResource",
    "ImportResponse",
    "OpenEphemeralRequest",
    "OpenEphemeralResponse",
    "PlanRequest",
    "PlanResponse",
    "Provider",
    "ReadDataRequest",
    "ReadRequest",
    "ReadResponse",
    "RenewEphemeralRequest",
    "RenewEphemeralResponse",
    "Resource",
]


@dataclass
class PlanRequest:
    prior_state: Value
    proposed_new_state: Value
    config: Value
    prior_private: bytes

    @property
    def creating(self) -> bool:
        return self.prior_state.is_null

    @property
    def destroying(self) -> bool:
        return self.proposed_new_state.is_null


@dataclass
class PlanResponse:
    planned_state: Value
    planned_private: bytes
    requires_replace: list[Path] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class ApplyRequest:
    prior_state: Value
    planned_state: Value
    config: Value
    planned_private: bytes


@dataclass
class ApplyResponse:
    """``new_state`` must always say what exists, also when the operation failed half-way."""

    new_state: Value
    private: bytes
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class ReadRequest:
    state: Value
    private: bytes


@dataclass
class ReadResponse:
    """Set ``new_state`` to a null value when the object is gone, so Terraform plans it anew."""

    new_state: Value
    private: bytes
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class ImportResponse:
    """One state per imported object; unknown/null attributes are filled by the following read."""

    states: list[Value] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    private: bytes = b""  # private state of the (single) imported object


@dataclass
class ReadDataRequest:
    config: Value


@dataclass
class OpenEphemeralRequest:
    config: Value


@dataclass
class OpenEphemeralResponse:
    """``result`` starts as the configuration (computed attributes null); ``renew_at`` asks
    Terraform to call ``renew`` around that time while it still needs the result."""

    result: Value
    private: bytes = b""
    renew_at: datetime.datetime | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class RenewEphemeralRequest:
    private: bytes


@dataclass
class RenewEphemeralResponse:
    """Renewal extends what was opened (a lease); it cannot change the result."""

    private: bytes
    renew_at: datetime.datetime | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


@dataclass
class CloseEphemeralRequest:
    private: bytes


class Resource(ABC):
    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    @classmethod
    def validate_config(cls, config: Value, diagnostics: Diagnostics) -> None:
        """Cross-attribute checks before the provider is configured; per-attribute
        validators live in the schema."""

    def modify_plan(self, request: PlanRequest, response: PlanResponse) -> None:
        """Adjust the plan the bridge derived from the schema (replacement, unknowns)."""

    def plan_destroy(self, request: PlanRequest, response: PlanResponse) -> None:
        """Say at plan what a destroy cannot do (errors) or will leave (warnings), before
        Terraform destroys anything (the ``plan_destroy`` capability)."""

    @abstractmethod
    def create(self, request: ApplyRequest, response: ApplyResponse) -> None: ...

    @abstractmethod
    def read(self, request: ReadRequest, response: ReadResponse) -> None: ...

    @abstractmethod
    def update(self, request: ApplyRequest, response: ApplyResponse) -> None: ...

    @abstractmethod
    def delete(self, request: ApplyRequest, response: ApplyResponse) -> None: ...

    def import_state(self, import_id: str, response: ImportResponse) -> None:
        response.diagnostics.error("Import not supported", f"{self.type_name} cannot be imported.")


class DataSource(ABC):
    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    @classmethod
    def validate_config(cls, config: Value, diagnostics: Diagnostics) -> None:
        """Cross-attribute checks before the provider is configured."""

    @abstractmethod
    def read(self, request: ReadDataRequest, diagnostics: Diagnostics) -> Value: ...


class EphemeralResource(ABC):
    type_name: ClassVar[str]
    schema: ClassVar[Schema]

    @classmethod
    def validate_config(cls, config: Value, diagnostics: Diagnostics) -> None:
        """Cross-attribute checks before the provider is configured."""

    @abstractmethod
    def open(self, request: OpenEphemeralRequest, response: OpenEphemeralResponse) -> None: ...

    def renew(self, request: RenewEphemeralRequest, response: RenewEphemeralResponse) -> None:
        """Only called when ``open`` or a previous renew set ``renew_at``."""

    def close(self, request: CloseEphemeralRequest, diagnostics: Diagnostics) -> None:
        """Release what ``open`` holds outside Terraform; nothing by default."""


class Deferred:
    """Stands for a resource class whose module is imported only when more than its schema
    is needed: a start that answers no more than GetProviderSchema (the first of every
    Terraform command) then skips that module and what it imports."""

    def __init__(self, schema: Schema, module: str, name: str) -> None:
        self.schema = schema
        self._module = module
        self._name = name

    def load(self) -> Any:
        cls = getattr(importlib.import_module(self._module), self._name)
        if cls.schema is not self.schema:  # the schema served must be the one that runs
            raise TypeError(f"{self._module}.{self._name} has another schema than announced")
        return cls

    def __getattr__(self, attribute: str) -> Any:  # class attributes: validate_config, ...
        return getattr(self.load(), attribute)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)


class Provider(ABC):
    """The provider as the bridge sees it. Schema and validation must stay cheap to import:
    Terraform starts the provider process for them alone."""

    name: ClassVar[str]  # the NAME of its address NAMESPACE/NAME; messages name it
    schema: ClassVar[Schema]
    resources: ClassVar[Mapping[str, type[Resource] | Deferred]]
    data_sources: ClassVar[Mapping[str, type[DataSource]]]
    ephemeral_resources: ClassVar[Mapping[str, type[EphemeralResource]]] = {}

    def validate_config(self, config: Value, diagnostics: Diagnostics) -> None:
        """Cross-attribute checks of the provider block."""

    @abstractmethod
    def configure(self, config: Value, diagnostics: Diagnostics) -> None: ...

    @abstractmethod
    def new_resource(self, type_name: str) -> Resource: ...

    @abstractmethod
    def new_data_source(self, type_name: str) -> DataSource: ...

    def new_ephemeral_resource(self, type_name: str) -> EphemeralResource:
        """An instance of a type of ``ephemeral_resources``, bound to the configured provider."""
        raise NotImplementedError(type_name)

    def stop(self) -> None:
        """Terraform asks in-flight work to end soon (Ctrl-C); state must still be returned."""

    def close(self) -> None:
        """The process is about to exit: release what is held outside it (sessions)."""
