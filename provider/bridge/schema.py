"""Schema model: what a provider, resource or data source accepts and returns.

Besides what goes on the wire, an attribute carries behaviour the bridge applies for every
resource alike: validators (run on known values at validate time), ``default``,
``requires_replace`` and ``use_state_for_unknown`` (applied when planning). A default is
written into the description sent to Terraform, so it is stated once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .cty import List, Map, Object, Path, Set, Type, Value
from .diagnostics import Diagnostics

__all__ = [
    "Attribute",
    "Block",
    "NestedAttributes",
    "NestedBlock",
    "Nesting",
    "Schema",
    "Validator",
    "validate_attributes",
    "walk_attributes",
]

Validator = Callable[[Value, Path, Diagnostics], None]


class Nesting(enum.Enum):
    SINGLE = "single"
    LIST = "list"
    SET = "set"
    MAP = "map"
    GROUP = "group"


def _wrap(nesting: Nesting, obj: Object) -> Type:
    if nesting is Nesting.LIST:
        return List(obj)
    if nesting is Nesting.SET:
        return Set(obj)
    if nesting is Nesting.MAP:
        return Map(obj)
    return obj


def _refuse_defaults(attributes: tuple[Attribute, ...]) -> None:
    """Planning fills in defaults of top-level attributes only."""
    for a in attributes:
        if a.default is not None:
            raise ValueError(f"attribute {a.name}: a nested attribute cannot have a default")


@dataclass(frozen=True)
class NestedAttributes:
    """Attributes nested inside an attribute (protocol 6 only), e.g. ``nodes = { ... }``."""

    attributes: tuple[Attribute, ...]
    nesting: Nesting = Nesting.SINGLE

    def __post_init__(self) -> None:
        _refuse_defaults(self.attributes)

    def value_type(self) -> Type:
        obj = Object({a.name: a.value_type() for a in self.attributes})
        return _wrap(self.nesting, obj)


@dataclass(frozen=True)
class Attribute:
    name: str
    type: Type | None = None
    description: str = ""
    required: bool = False
    optional: bool = False
    computed: bool = False
    sensitive: bool = False
    deprecated: bool = False
    nested: NestedAttributes | None = None
    requires_replace: bool = False
    use_state_for_unknown: bool = False
    validators: tuple[Validator, ...] = ()
    default: Any = None  # planned when the configuration leaves the attribute null

    def __post_init__(self) -> None:
        if (self.type is None) == (self.nested is None):
            raise ValueError(f"attribute {self.name}: give exactly one of type and nested")
        if not (self.required or self.optional or self.computed):
            raise ValueError(f"attribute {self.name}: must be required, optional or computed")
        if self.default is not None and not (self.optional and self.computed):
            raise ValueError(f"attribute {self.name}: a default needs optional and computed")

    def value_type(self) -> Type:
        return self.nested.value_type() if self.nested else self.type  # type: ignore[return-value]

    def default_value(self) -> Value:
        return Value.from_python(self.value_type(), self.default)

    @property
    def documentation(self) -> str:
        """The description as Terraform shows it, the default stated at its end."""
        if self.default is None:
            return self.description
        return f"{self.description} Default: `{_hcl(self.default)}`.".lstrip()


def _hcl(value: Any, *, top: bool = True) -> str:
    """A default as a user writes it in HCL (a string at the top level unquoted)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value if top else f'"{value}"'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_hcl(v, top=False)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_hcl(v, top=False) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class NestedBlock:
    name: str
    block: Block
    nesting: Nesting = Nesting.LIST
    min_items: int = 0
    max_items: int = 0

    def __post_init__(self) -> None:
        _refuse_defaults(self.block.attributes)

    def value_type(self) -> Type:
        return _wrap(self.nesting, self.block.value_type())


@dataclass(frozen=True)
class Block:
    attributes: tuple[Attribute, ...] = ()
    blocks: tuple[NestedBlock, ...] = ()
    description: str = ""
    deprecated: bool = False

    def value_type(self) -> Object:
        types = {a.name: a.value_type() for a in self.attributes}
        types.update({b.name: b.value_type() for b in self.blocks})
        return Object(types)

    def attribute(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(name)


@dataclass(frozen=True)
class Schema:
    block: Block
    version: int = 0
    _type: Object | None = field(default=None, init=False, repr=False, compare=False)

    def value_type(self) -> Object:
        if self._type is None:
            object.__setattr__(self, "_type", self.block.value_type())
        return self._type  # type: ignore[return-value]


def walk_attributes(
    block: Block, value: Value, path: Path
) -> Iterator[tuple[Attribute, Value, Path]]:
    """Every attribute of a block value with its path, descending into known nested blocks
    and nested attributes."""
    if value.is_null or not value.is_known:
        return
    for attr in block.attributes:
        attr_path = path.attr(attr.name)
        yield attr, value[attr.name], attr_path
        if attr.nested is not None:
            inner = Block(attributes=attr.nested.attributes)
            for element, element_path in _elements(
                attr.nested.nesting, value[attr.name], attr_path
            ):
                yield from walk_attributes(inner, element, element_path)
    for nested in block.blocks:
        nested_path = path.attr(nested.name)
        for element, element_path in _elements(nested.nesting, value[nested.name], nested_path):
            yield from walk_attributes(nested.block, element, element_path)


def validate_attributes(block: Block, value: Value, diagnostics: Diagnostics) -> None:
    """Every attribute's validators, on its known, non-null values."""
    for attr, attr_value, path in walk_attributes(block, value, Path.root()):
        if attr.validators and attr_value.is_known and not attr_value.is_null:
            for validator in attr.validators:
                validator(attr_value, path, diagnostics)


def _elements(nesting: Nesting, value: Value, path: Path) -> Iterator[tuple[Value, Path]]:
    """The objects inside a nested value, with their paths (list and set elements by
    position, as Terraform shows them)."""
    if value.is_null or not value.is_known:
        return
    if nesting in (Nesting.SINGLE, Nesting.GROUP):
        yield value, path
    elif nesting is Nesting.MAP:
        for key, element in value.payload.items():
            yield element, path.key(key)
    else:
        for index, element in enumerate(value.payload):
            yield element, path.index(index)
