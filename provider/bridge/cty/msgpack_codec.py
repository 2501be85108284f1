"""cty's msgpack value encoding, as used for Terraform's DynamicValue.msgpack.

Wire rules (from go-cty's cty/msgpack):
- null is nil; a plain unknown is ext type 0 written as fixext1 ``d4 00 00``;
  a refined unknown is ext type 12 whose payload is a msgpack map keyed by
  small ints (see ``_RFN_*``). On decode any ext of length <= 1 is a plain
  unknown, whatever its type code.
- a number is an int when integral and within int64, else a float64 when
  that is exact, else its decimal string; decoding takes any of the three.
- an object is a map of every attribute in sorted name order; decoding
  rejects unknown attribute names and a wrong attribute count.
- a value in a DYNAMIC slot is ``[type JSON as bin, value]``, except that an
  unknown or null of unknown type is a bare ext / nil.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import msgpack

from .paths import CodecError, Path
from .types import (
    DYNAMIC,
    NUMBER,
    STRING,
    Bool,
    List,
    Map,
    Number,
    Object,
    Set,
    String,
    Tuple,
    Type,
    type_from_json,
    type_to_json,
)
from .values import NumberPayload, Refinements, Value, normalize_number

_EXT_UNKNOWN = 0
_EXT_REFINED = 12
_RFN_NULLNESS = 1  # bool "is null"; cty writes False to mean "definitely not null"
_RFN_PREFIX = 2
_RFN_NUM_LOWER = 3  # [number, inclusive]
_RFN_NUM_UPPER = 4
_RFN_LEN_LOWER = 5  # int
_RFN_LEN_UPPER = 6
_MAX_REFINEMENT_BYTES = 1024  # cty rejects larger payloads as abusive
_MAX_PREFIX_BYTES = 256  # cty truncates longer prefixes to stay under the limit above
_INT64 = range(-(2**63), 2**63)


def encode_msgpack(v: Value, as_type: Type | None = None) -> bytes:
    """Encode ``v``; pass ``as_type=DYNAMIC`` when the slot itself is dynamic."""
    return msgpack.packb(_encode(v, as_type or v.type, Path.root()), use_bin_type=True)


def decode_msgpack(data: bytes, t: Type) -> Value:
    """Decode a value of type ``t``; for DYNAMIC the result has the concrete type."""
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise CodecError(f"invalid msgpack: {e}") from None
    return _decode(obj, t, Path.root())


# --- encoding -----------------------------------------------------------------


def _encode(v: Value, t: Type, path: Path) -> Any:
    if t == DYNAMIC and v.type != DYNAMIC:
        return [type_to_json(v.type), _encode(v, v.type, path)]
    if not v.is_known:
        return _encode_unknown(v)
    if v.is_null:
        return None
    p = v.payload
    if isinstance(t, Number):
        return _encode_number(p)
    if isinstance(t, (String, Bool)):
        return p
    if isinstance(t, (List, Set)):
        return [_encode(e, t.elem, path.index(i)) for i, e in enumerate(p)]
    if isinstance(t, Tuple):
        return [
            _encode(e, et, path.index(i)) for i, (e, et) in enumerate(zip(p, t.elems, strict=True))
        ]
    if isinstance(t, Map):
        return {k: _encode(e, t.elem, path.key(k)) for k, e in p.items()}
    if isinstance(t, Object):
        return {k: _encode(p[k], at, path.attr(k)) for k, at in t.attrs.items()}  # attrs are sorted
    raise CodecError(f"cannot encode a value of type {t!r}", path)


def _encode_number(n: NumberPayload) -> int | float | str:
    if isinstance(n, int):
        if n in _INT64:
            return n
        try:
            f = float(n)
        except OverflowError:
            return str(n)
        return f if int(f) == n else str(n)
    f = float(n)
    if n.is_infinite() or Decimal(f) == n:
        return f
    return format(n, "f")


def _encode_unknown(v: Value) -> msgpack.ExtType:
    r = v.refinements
    if not r:
        return msgpack.ExtType(_EXT_UNKNOWN, b"\x00")  # fixext1: the most compact ext form
    rfn: dict[int, Any] = {}
    if r.not_null:
        rfn[_RFN_NULLNESS] = False
    if r.string_prefix is not None:
        rfn[_RFN_PREFIX] = _truncate_utf8(r.string_prefix, _MAX_PREFIX_BYTES)
    for key, bound in ((_RFN_NUM_LOWER, r.number_lower), (_RFN_NUM_UPPER, r.number_upper)):
        if bound is not None:
            rfn[key] = [_encode_number(bound[0]), bound[1]]
    for key, length in ((_RFN_LEN_LOWER, r.length_lower), (_RFN_LEN_UPPER, r.length_upper)):
        if length is not None:
            rfn[key] = length
    return msgpack.ExtType(_EXT_REFINED, msgpack.packb(rfn, use_bin_type=True))


def _truncate_utf8(s: str, limit: int) -> str:
    raw = s.encode()
    if len(raw) <= limit:
        return s
    return raw[: limit - 1].decode(errors="ignore")  # drops a split trailing character


# --- decoding -----------------------------------------------------------------


def _decode(obj: Any, t: Type, path: Path) -> Value:
    if isinstance(obj, msgpack.ExtType):
        return _decode_unknown(obj, t, path)
    if isinstance(obj, msgpack.Timestamp):
        raise CodecError("unsupported msgpack extension (timestamp)", path)
    if t == DYNAMIC:
        if obj is None:
            return Value.null(DYNAMIC)
        if not (isinstance(obj, list) and len(obj) == 2 and isinstance(obj[0], (bytes, str))):
            raise CodecError("dynamic value must be a [type, value] array", path)
        try:
            concrete = type_from_json(obj[0])
        except CodecError as e:
            raise CodecError(e.message, path) from None
        return _decode(obj[1], concrete, path)
    if obj is None:
        return Value.null(t)
    if isinstance(t, Number):
        return Value.known(t, _decode_number(obj, path))
    if isinstance(t, String) and isinstance(obj, str):
        return Value.known(t, obj)
    if isinstance(t, Bool) and isinstance(obj, bool):
        return Value.known(t, obj)
    if isinstance(t, (List, Set)) and isinstance(obj, list):
        return Value.known(t, [_decode(e, t.elem, path.index(i)) for i, e in enumerate(obj)])
    if isinstance(t, Tuple) and isinstance(obj, list):
        if len(obj) != len(t.elems):
            raise CodecError(f"a tuple of length {len(t.elems)} is required", path)
        return Value.known(t, [_decode(e, t.elems[i], path.index(i)) for i, e in enumerate(obj)])
    if isinstance(t, (Map, Object)) and isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise CodecError("all keys must be strings", path)
        if isinstance(t, Map):
            return Value.known(t, {k: _decode(e, t.elem, path.key(k)) for k, e in obj.items()})
        return _decode_object(obj, t, path)
    kind = type(t).__name__.lower()
    raise CodecError(f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} is required", path)


def _decode_object(obj: dict[str, Any], t: Object, path: Path) -> Value:
    for k in obj:
        if k not in t.attrs:
            raise CodecError("unsupported attribute", path.attr(k))
    # cty demands every attribute; we only let *optional* ones be absent (as null).
    missing = sorted(k for k in t.attrs.keys() - obj.keys() if k not in t.optional)
    if missing:
        raise CodecError(
            f"an object with {len(t.attrs)} attributes is required (missing {', '.join(missing)})",
            path,
        )
    return Value.known(t, {k: _decode(obj.get(k), at, path.attr(k)) for k, at in t.attrs.items()})


def _decode_number(obj: Any, path: Path) -> NumberPayload:
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj
    if isinstance(obj, float):
        if math.isnan(obj):
            raise CodecError("NaN is not a valid number", path)
        return normalize_number(Decimal(obj))  # exact binary value, as cty's NumberFloatVal
    if isinstance(obj, str):
        try:
            return normalize_number(obj)
        except ValueError:
            pass
    raise CodecError("number is required", path)


def _decode_unknown(ext: msgpack.ExtType, t: Type, path: Path) -> Value:
    if len(ext.data) <= 1 or ext.code == _EXT_UNKNOWN:
        return Value.unknown(t)
    if ext.code != _EXT_REFINED:
        raise CodecError(
            f"unsupported extension type 0x{ext.code:02x} with len {len(ext.data)}", path
        )
    if len(ext.data) > _MAX_REFINEMENT_BYTES:
        raise CodecError("oversize unknown value refinement", path)
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(ext.data)  # only the first object counts: cty ignores trailing bytes
    try:
        rfn = next(unpacker)
    except (ValueError, StopIteration, msgpack.UnpackException):
        rfn = None
    if not isinstance(rfn, dict):
        raise CodecError("refinement payload is not a map", path)
    if t == DYNAMIC:
        return Value.unknown(t)  # cty silently drops refinements on dynamic unknowns
    return _refined_unknown(rfn, t, path)


def _refined_unknown(rfn: dict[Any, Any], t: Type, path: Path) -> Value:
    fields: dict[str, Any] = {}
    for key, val in rfn.items():
        if key == _RFN_NULLNESS:
            if not isinstance(val, bool):
                raise CodecError("null refinement is not boolean", path)
            if val:
                return Value.null(t)  # "definitely null" collapses to null, as in cty
            fields["not_null"] = True
        elif key == _RFN_PREFIX:
            if t != STRING or not isinstance(val, str):
                raise CodecError("invalid string prefix refinement", path)
            fields["string_prefix"] = val
        elif key in (_RFN_NUM_LOWER, _RFN_NUM_UPPER):
            ok = (
                t == NUMBER and isinstance(val, list) and len(val) == 2 and isinstance(val[1], bool)
            )
            if not ok:
                raise CodecError("number bound refinement must be a [number, bool] array", path)
            bound = (_decode_number(val[0], path), val[1])
            fields["number_lower" if key == _RFN_NUM_LOWER else "number_upper"] = bound
        elif key in (_RFN_LEN_LOWER, _RFN_LEN_UPPER):
            if (
                not isinstance(t, (List, Set, Map))
                or not isinstance(val, int)
                or isinstance(val, bool)
            ):
                raise CodecError("invalid collection length refinement", path)
            fields["length_lower" if key == _RFN_LEN_LOWER else "length_upper"] = val
        # Unrecognised keys are ignored so that newer refinements don't break us.
    return Value.unknown(t, Refinements(**fields))
