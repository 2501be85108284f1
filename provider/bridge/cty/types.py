"""cty's type system: immutable, hashable type objects and their JSON form.

The JSON form is what Terraform puts on the wire for schema types and inside
dynamically-typed values, so it is produced byte-for-byte like cty does
(compact, object attributes sorted, optional names sorted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .paths import CodecError


class Type:
    """Base class of all cty types."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, repr=False)
class String(Type):
    def __repr__(self) -> str:
        return "string"


@dataclass(frozen=True, slots=True, repr=False)
class Number(Type):
    def __repr__(self) -> str:
        return "number"


@dataclass(frozen=True, slots=True, repr=False)
class Bool(Type):
    def __repr__(self) -> str:
        return "bool"


@dataclass(frozen=True, slots=True, repr=False)
class DynamicPseudoType(Type):
    """ "Any type": values in such a position carry their own concrete type."""

    def __repr__(self) -> str:
        return "dynamic"


@dataclass(frozen=True, slots=True, repr=False)
class List(Type):
    elem: Type

    def __repr__(self) -> str:
        return f"list({self.elem!r})"


@dataclass(frozen=True, slots=True, repr=False)
class Set(Type):
    elem: Type

    def __repr__(self) -> str:
        return f"set({self.elem!r})"


@dataclass(frozen=True, slots=True, repr=False)
class Map(Type):
    elem: Type

    def __repr__(self) -> str:
        return f"map({self.elem!r})"


@dataclass(frozen=True, slots=True, repr=False)
class Tuple(Type):
    elems: tuple[Type, ...]

    def __init__(self, elems: Iterable[Type]) -> None:
        object.__setattr__(self, "elems", tuple(elems))

    def __repr__(self) -> str:
        return f"tuple([{', '.join(map(repr, self.elems))}])"


class Object(Type):
    """An object type; ``optional`` names attributes that may be omitted."""

    __slots__ = ("_attrs", "_key", "_optional")

    def __init__(self, attrs: Mapping[str, Type], optional: Iterable[str] = frozenset()) -> None:
        opt = frozenset(optional)
        if not opt <= attrs.keys():
            raise ValueError(f"optional names {sorted(opt - attrs.keys())} are not attributes")
        # Sorted so that equal types hash equally and encode deterministically.
        items = tuple(sorted(attrs.items()))
        object.__setattr__(self, "_attrs", MappingProxyType(dict(items)))
        object.__setattr__(self, "_optional", opt)
        object.__setattr__(self, "_key", (items, opt))

    @property
    def attrs(self) -> Mapping[str, Type]:
        return self._attrs

    @property
    def optional(self) -> frozenset[str]:
        return self._optional

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Object types are immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Object) and self._key == other._key

    def __hash__(self) -> int:
        return hash(("object", self._key))

    def __repr__(self) -> str:
        parts = (
            f"{k}=optional({t!r})" if k in self._optional else f"{k}={t!r}"
            for k, t in self._attrs.items()
        )
        return f"object({{{', '.join(parts)}}})"


STRING = String()
NUMBER = Number()
BOOL = Bool()
DYNAMIC = DynamicPseudoType()

_PRIMITIVES: dict[str, Type] = {
    "string": STRING,
    "number": NUMBER,
    "bool": BOOL,
    "dynamic": DYNAMIC,
}
_COLLECTIONS: dict[str, type[List] | type[Set] | type[Map]] = {"list": List, "set": Set, "map": Map}


def go_json_string(s: str) -> str:
    """A JSON string literal escaped like Go's encoding/json (HTML-safe)."""
    out = json.dumps(s, ensure_ascii=False)
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        out = out.replace(ch, esc)
    return out


def _to_json(t: Type) -> str:
    if isinstance(t, (String, Number, Bool, DynamicPseudoType)):
        return f'"{t!r}"'
    if isinstance(t, (List, Set, Map)):
        return f'["{type(t).__name__.lower()}",{_to_json(t.elem)}]'
    if isinstance(t, Tuple):
        return f'["tuple",[{",".join(map(_to_json, t.elems))}]]'
    if isinstance(t, Object):
        attrs = ",".join(f"{go_json_string(k)}:{_to_json(v)}" for k, v in t.attrs.items())
        opt = f",[{','.join(map(go_json_string, sorted(t.optional)))}]" if t.optional else ""
        return f'["object",{{{attrs}}}{opt}]'
    raise TypeError(f"not a cty type: {t!r}")


def type_to_json(t: Type) -> bytes:
    """Encode a type in cty's JSON type notation."""
    return _to_json(t).encode()


def type_from_obj(obj: Any) -> Type:
    """Build a type from already-parsed cty JSON type notation."""
    if isinstance(obj, str) and obj in _PRIMITIVES:
        return _PRIMITIVES[obj]
    if isinstance(obj, list) and len(obj) >= 2 and isinstance(obj[0], str):
        kind, arg, rest = obj[0], obj[1], obj[2:]
        if kind in _COLLECTIONS and not rest:
            return _COLLECTIONS[kind](type_from_obj(arg))
        if kind == "tuple" and isinstance(arg, list) and not rest:
            return Tuple(type_from_obj(e) for e in arg)
        if kind == "object" and isinstance(arg, dict) and len(rest) <= 1:
            optional = rest[0] if rest else []
            if isinstance(optional, list) and all(
                isinstance(n, str) and n in arg for n in optional
            ):
                return Object({k: type_from_obj(v) for k, v in arg.items()}, optional)
    raise CodecError(f"invalid type description {json.dumps(obj, default=str)}")


def type_from_json(data: bytes | str) -> Type:
    """Decode cty's JSON type notation."""
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise CodecError(f"invalid type JSON: {e}") from None
    return type_from_obj(obj)
