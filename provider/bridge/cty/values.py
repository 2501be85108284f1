"""cty values: a type plus a payload, with null and unknown made explicit.

A value's type is the type of the *slot* it sits in (usually from a schema).
Only where that slot type is ``DYNAMIC`` does a value carry its own concrete
type instead (or ``DYNAMIC`` itself, for a null or unknown of unknown type),
which is exactly the information the wire formats need.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal, InvalidOperation
from enum import Enum
from functools import cache
from types import MappingProxyType
from typing import Any, Final

from .paths import CodecError, Path
from .types import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    Bool,
    DynamicPseudoType,
    List,
    Map,
    Number,
    Object,
    Set,
    String,
    Tuple,
    Type,
    type_to_json,
)

NumberPayload = int | Decimal

# Integral numbers above this many digits stay Decimal: int() of "1e999999999"
# would eat memory, and Python refuses str() of ints beyond ~4300 digits.
_MAX_INT_DIGITS = 1000
_NUMBER_RE = re.compile(
    r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf(?:inity)?", re.IGNORECASE
)


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
"""Marks an unknown value in the plain-Python input of ``Value.from_python``."""


class UnknownValueError(CodecError):
    """Raised by ``to_python`` when it meets an unknown value."""


def normalize_number(n: int | float | Decimal | str) -> NumberPayload:
    """Canonical number payload: int when integral, else a trailing-zero-free Decimal.

    Floats go through ``repr`` (the shortest decimal that round-trips), which
    is what the caller most likely meant and how cty prints a float64.
    """
    if isinstance(n, bool):
        raise ValueError("a bool is not a number")
    if isinstance(n, int):
        return n
    if isinstance(n, str):
        if not _NUMBER_RE.fullmatch(n):
            raise ValueError(f"{n!r} is not a number")
        n = Decimal(n)
    d = Decimal(repr(n)) if isinstance(n, float) and math.isfinite(n) else Decimal(n)
    if d.is_nan():
        raise ValueError("NaN is not a valid number")
    if d.is_infinite():
        return d
    if d == d.to_integral_value() and d.adjusted() < _MAX_INT_DIGITS:
        return int(d)
    exact = Context(prec=max(1, len(d.as_tuple().digits)), Emax=MAX_EMAX, Emin=MIN_EMIN)
    return d.normalize(exact)


Bound = tuple[NumberPayload, bool]
"""A number bound and whether it is inclusive."""


@dataclass(frozen=True, slots=True)
class Refinements:
    """What is already known about an unknown value (cty "refinements")."""

    not_null: bool = False
    string_prefix: str | None = None
    number_lower: Bound | None = None
    number_upper: Bound | None = None
    length_lower: int | None = None
    length_upper: int | None = None

    def __post_init__(self) -> None:
        # Spellings of "no refinement" that cty never puts on the wire are
        # folded to None so that encode/decode round-trips compare equal.
        if self.string_prefix == "":
            object.__setattr__(self, "string_prefix", None)
        if self.length_lower == 0:
            object.__setattr__(self, "length_lower", None)
        for name in ("number_lower", "number_upper"):
            bound = getattr(self, name)
            if bound is not None:
                num = normalize_number(bound[0])
                infinite = isinstance(num, Decimal) and num.is_infinite()
                object.__setattr__(self, name, None if infinite else (num, bool(bound[1])))

    def __bool__(self) -> bool:
        return self != _NO_REFINEMENTS


_NO_REFINEMENTS: Final = Refinements()


def _check_refinements(t: Type, r: Refinements) -> None:
    if isinstance(t, DynamicPseudoType):
        raise ValueError("an unknown value of dynamic type cannot be refined")
    if r.string_prefix is not None and t != STRING:
        raise ValueError(f"string prefix refinement on {t!r}")
    if (r.number_lower or r.number_upper) and t != NUMBER:
        raise ValueError(f"number bound refinement on {t!r}")
    if (r.length_lower, r.length_upper) != (None, None) and not isinstance(t, (List, Set, Map)):
        raise ValueError(f"length refinement on non-collection {t!r}")


class _State(Enum):
    KNOWN = "known"
    NULL = "null"
    UNKNOWN = "unknown"


class Value:
    """An immutable cty value. Build with ``null``, ``unknown`` or ``from_python``."""

    __slots__ = ("_hash", "_payload", "_refinements", "_state", "_type")
    _type: Type
    _state: _State
    _payload: Any
    _refinements: Refinements | None
    _hash: int | None

    @classmethod
    def _make(
        cls, t: Type, state: _State, payload: Any = None, refinements: Refinements | None = None
    ) -> Value:
        v = object.__new__(cls)
        for name, val in (
            ("_type", t),
            ("_state", state),
            ("_payload", payload),
            ("_refinements", refinements),
        ):
            object.__setattr__(v, name, val)
        object.__setattr__(v, "_hash", None)
        return v

    @classmethod
    def null(cls, t: Type) -> Value:
        return cls._make(t, _State.NULL)

    @classmethod
    def unknown(cls, t: Type, refinements: Refinements | None = None) -> Value:
        if not refinements:
            return cls._make(t, _State.UNKNOWN)
        _check_refinements(t, refinements)
        return cls._make(t, _State.UNKNOWN, refinements=refinements)

    @classmethod
    def known(cls, t: Type, payload: Any) -> Value:
        """Trusted constructor for codecs: payload must already be of the right shape."""
        if isinstance(t, Set):
            payload = tuple(sorted(dict.fromkeys(payload), key=_sort_key))
        elif isinstance(t, (Map, Object)):
            payload = MappingProxyType(dict(sorted(payload.items())))
        elif isinstance(t, (List, Tuple)):
            payload = tuple(payload)
        return cls._make(t, _State.KNOWN, payload)

    @classmethod
    def from_python(cls, t: Type, obj: Any) -> Value:
        """Build a value of type ``t`` from plain Python (None = null, UNKNOWN = unknown)."""
        return _from_python(t, obj, Path.root())

    @property
    def type(self) -> Type:
        return self._type

    @property
    def is_null(self) -> bool:
        return self._state is _State.NULL

    @property
    def is_known(self) -> bool:
        return self._state is not _State.UNKNOWN

    @property
    def refinements(self) -> Refinements:
        return self._refinements or _NO_REFINEMENTS

    @property
    def payload(self) -> Any:
        """The raw payload (None for null and unknown values)."""
        return self._payload

    def is_fully_known(self) -> bool:
        if self._state is _State.UNKNOWN:
            return False
        p = self._payload
        children = p.values() if isinstance(p, Mapping) else p if isinstance(p, tuple) else ()
        return all(c.is_fully_known() for c in children)

    def to_python(self) -> Any:
        """Plain Python; raises UnknownValueError (with its path) on any unknown."""
        return _to_python(self, Path.root())

    def __getitem__(self, key: str | int) -> Value:
        if self._state is not _State.KNOWN:
            raise TypeError(f"cannot index into a {self._state.value} value")
        if isinstance(key, str) and isinstance(self._type, (Object, Map)):
            return self._payload[key]  # type: ignore[no-any-return]
        if (
            isinstance(key, int)
            and not isinstance(key, bool)
            and isinstance(self._type, (List, Tuple))
        ):
            return self._payload[key]  # type: ignore[no-any-return]
        raise TypeError(f"cannot index {self._type!r} with {key!r}")

    def with_attributes(self, changes: Mapping[str, Value]) -> Value:
        """A copy of this known object value with some attributes replaced."""
        if self._state is not _State.KNOWN or not isinstance(self._type, Object):
            raise TypeError(f"with_attributes needs a known object value, not {self!r}")
        unknown = set(changes) - set(self._type.attrs)
        if unknown:
            raise KeyError(f"no attribute {sorted(unknown)[0]!r} in {self._type!r}")
        return Value.known(self._type, {**self._payload, **changes})

    def __len__(self) -> int:
        if self._state is not _State.KNOWN or not isinstance(self._payload, (tuple, Mapping)):
            raise TypeError(f"{self!r} has no length")
        return len(self._payload)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Value is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value):
            return NotImplemented
        return self is other or (
            self._type == other._type
            and self._state is other._state
            and self._refinements == other._refinements
            and self._payload == other._payload
        )

    def __hash__(self) -> int:
        if self._hash is None:
            p = self._payload
            hp = hash(frozenset(p.items())) if isinstance(p, Mapping) else hash(p)
            object.__setattr__(
                self, "_hash", hash((self._type, self._state, self._refinements, hp))
            )
        return self._hash  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Value({self._type!r}, {_show(self)})"


def _show(v: Value) -> str:
    if v._state is _State.NULL:
        return "null"
    if v._state is _State.UNKNOWN:
        return f"unknown({v._refinements!r})" if v._refinements else "unknown"
    p = v._payload
    if isinstance(p, tuple):
        return f"[{', '.join(map(_show, p))}]"
    if isinstance(p, Mapping):
        return "{" + ", ".join(f"{k!r}: {_show(e)}" for k, e in p.items()) + "}"
    return repr(p)


@cache
def _type_key(t: Type) -> bytes:
    return type_to_json(t)


def _sort_key(v: Value) -> tuple[Any, ...]:
    """A total order on values, used only to give sets one canonical order."""
    tk = _type_key(v._type)  # first, so payloads of different kinds never get compared
    if v._state is _State.NULL:
        return (tk, 0)
    if v._state is _State.UNKNOWN:
        return (tk, 1, repr(v._refinements))
    p = v._payload
    if isinstance(p, tuple):
        return (tk, 2, tuple(map(_sort_key, p)))
    if isinstance(p, Mapping):
        return (tk, 2, tuple((k, _sort_key(e)) for k, e in p.items()))
    return (tk, 2, p)


def _to_python(v: Value, path: Path) -> Any:
    if v._state is _State.UNKNOWN:
        raise UnknownValueError("value is unknown", path)
    p = v._payload
    if isinstance(p, tuple):
        return [_to_python(e, path.index(i)) for i, e in enumerate(p)]
    if isinstance(p, Mapping):
        step = path.attr if isinstance(v._type, Object) else path.key
        return {k: _to_python(e, step(k)) for k, e in p.items()}
    return p


def implied_type(obj: Any) -> Type:
    """The type a plain-Python value would have in a dynamically-typed slot."""
    if isinstance(obj, Value):
        return obj.type
    if isinstance(obj, str):
        return STRING
    if isinstance(obj, bool):
        return BOOL
    if isinstance(obj, (int, float, Decimal)):
        return NUMBER
    if isinstance(obj, (list, tuple)):
        return Tuple(implied_type(e) for e in obj)
    if isinstance(obj, Mapping):
        return Object({str(k): implied_type(e) for k, e in obj.items()})
    if obj is None or obj is UNKNOWN:
        return DYNAMIC
    raise TypeError(f"no cty type for {type(obj).__name__}")


def _from_python(t: Type, obj: Any, path: Path) -> Value:
    if obj is UNKNOWN:
        return Value.unknown(t)
    if obj is None:
        return Value.null(t)
    if isinstance(obj, Value):
        if obj.type == t or isinstance(t, DynamicPseudoType):
            return obj
        raise CodecError(f"expected {t!r}, got a value of type {obj.type!r}", path)
    if isinstance(t, DynamicPseudoType):
        try:
            return _from_python(implied_type(obj), obj, path)
        except TypeError as e:
            raise CodecError(str(e), path) from None
    if isinstance(t, String) and isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            raise CodecError("string is not valid unicode", path) from None
        return Value.known(t, obj)
    if (
        isinstance(t, Number)
        and isinstance(obj, (int, float, Decimal, str))
        and not isinstance(obj, bool)
    ):
        try:
            return Value.known(t, normalize_number(obj))
        except (ValueError, InvalidOperation) as e:
            raise CodecError(str(e), path) from None
    if isinstance(t, Bool) and isinstance(obj, bool):
        return Value.known(t, obj)
    if isinstance(t, (List, Set, Tuple)) and isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)
        if isinstance(t, Tuple):
            if len(items) != len(t.elems):
                raise CodecError(
                    f"a tuple of {len(t.elems)} elements is required, got {len(items)}", path
                )
            return Value.known(
                t, (_from_python(t.elems[i], e, path.index(i)) for i, e in enumerate(items))
            )
        return Value.known(t, (_from_python(t.elem, e, path.index(i)) for i, e in enumerate(items)))
    if isinstance(t, Map) and isinstance(obj, Mapping):
        if not all(isinstance(k, str) for k in obj):
            raise CodecError("map keys must be strings", path)
        return Value.known(t, {k: _from_python(t.elem, e, path.key(k)) for k, e in obj.items()})
    if isinstance(t, Object) and isinstance(obj, Mapping):
        for k in obj:
            if k not in t.attrs:
                raise CodecError("unsupported attribute", path.attr(str(k)))
        # Absent and null are the same thing for Terraform object attributes.
        return Value.known(
            t, {k: _from_python(at, obj.get(k), path.attr(k)) for k, at in t.attrs.items()}
        )
    raise CodecError(f"{t!r} is required, got {type(obj).__name__} {obj!r:.40}", path)
