"""cty's JSON value encoding (Terraform raw state, import/upgrade payloads).

Differences from the msgpack form, all following go-cty's cty/json:
- unknown values cannot be encoded at all;
- numbers are bare decimal literals (never exponent form), kept exact here;
- a DYNAMIC slot holds ``{"value": ..., "type": ...}``;
- decoding fills absent object attributes with null, and applies cty's
  primitive conversions (number/bool -> string, "true"/"false" -> bool,
  numeric string -> number).
"""

from __future__ import annotations

import json
from typing import Any

from .paths import CodecError, Path
from .types import (
    DYNAMIC,
    Bool,
    List,
    Map,
    Number,
    Object,
    Set,
    String,
    Tuple,
    Type,
    go_json_string,
    type_from_obj,
    type_to_json,
)
from .values import NumberPayload, Value, normalize_number


def encode_json_value(v: Value, as_type: Type | None = None) -> bytes:
    """Encode a wholly known ``v``; pass ``as_type=DYNAMIC`` for a dynamic slot."""
    out: list[str] = []
    _encode(v, as_type or v.type, Path.root(), out)
    return "".join(out).encode()


def decode_json_value(data: bytes | str, t: Type) -> Value:
    """Decode JSON into a value of type ``t`` (concrete type for DYNAMIC)."""
    try:
        obj = json.loads(data, parse_int=_Num, parse_float=_Num, parse_constant=_reject_constant)
    except ValueError as e:
        raise CodecError(f"invalid JSON: {e}") from None
    return _decode(obj, t, Path.root())


# --- encoding -----------------------------------------------------------------


def _encode(v: Value, t: Type, path: Path, out: list[str]) -> None:
    if t == DYNAMIC and v.type != DYNAMIC:
        out.append('{"value":')
        _encode(v, v.type, path, out)
        out.append(f',"type":{type_to_json(v.type).decode()}}}')
        return
    if v.is_null:
        out.append("null")
        return
    if not v.is_known:
        raise CodecError("value is not known", path)
    p = v.payload
    if isinstance(t, String):
        out.append(go_json_string(p))
    elif isinstance(t, Number):
        out.append(_format_number(p, path))
    elif isinstance(t, Bool):
        out.append("true" if p else "false")
    elif isinstance(t, (List, Set, Tuple)):
        etys = t.elems if isinstance(t, Tuple) else [t.elem] * len(p)
        out.append("[")
        for i, (e, et) in enumerate(zip(p, etys, strict=True)):
            out.append("," if i else "")
            _encode(e, et, path.index(i), out)
        out.append("]")
    elif isinstance(t, (Map, Object)):
        out.append("{")
        for i, (k, e) in enumerate(p.items()):  # payload keys are sorted
            out.append(f"{',' if i else ''}{go_json_string(k)}:")
            if isinstance(t, Object):
                _encode(e, t.attrs[k], path.attr(k), out)
            else:
                _encode(e, t.elem, path.key(k), out)
        out.append("}")
    else:
        raise CodecError(f"cannot encode a value of type {t!r}", path)


def _format_number(n: NumberPayload, path: Path) -> str:
    if isinstance(n, int):
        return str(n)
    if n.is_infinite():
        raise CodecError("infinity cannot be represented in JSON", path)
    return format(n, "f")


# --- decoding -----------------------------------------------------------------


_BOOL_STRINGS = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
}  # cty's string->bool conversion


class _Num(str):
    """A JSON number literal kept as its source text, so nothing is lost."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _decode(obj: Any, t: Type, path: Path) -> Value:
    if obj is None:
        return Value.null(t)
    if t == DYNAMIC:
        if not isinstance(obj, dict) or set(obj) != {"value", "type"}:
            raise CodecError(
                'dynamic value must be an object with exactly "value" and "type"', path
            )
        try:
            concrete = type_from_obj(obj["type"])
        except CodecError as e:
            raise CodecError(e.message, path) from None
        return _decode(obj["value"], concrete, path)
    if isinstance(t, String) and isinstance(obj, (str, bool)):
        if isinstance(obj, bool):
            obj = "true" if obj else "false"
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            raise CodecError("string is not valid unicode", path) from None
        return Value.known(t, str(obj))
    if isinstance(t, Number) and isinstance(obj, str):
        try:
            return Value.known(t, normalize_number(str(obj)))
        except ValueError:
            raise CodecError("a number is required", path) from None
    if isinstance(t, Bool) and (
        isinstance(obj, bool) or (type(obj) is str and obj in _BOOL_STRINGS)
    ):
        return Value.known(t, obj if isinstance(obj, bool) else _BOOL_STRINGS[obj])
    if isinstance(t, (List, Set)) and isinstance(obj, list):
        return Value.known(t, [_decode(e, t.elem, path.index(i)) for i, e in enumerate(obj)])
    if isinstance(t, Tuple) and isinstance(obj, list):
        if len(obj) != len(t.elems):
            raise CodecError(f"a tuple of {len(t.elems)} elements is required", path)
        return Value.known(t, [_decode(e, t.elems[i], path.index(i)) for i, e in enumerate(obj)])
    if isinstance(t, Map) and isinstance(obj, dict):
        return Value.known(t, {k: _decode(e, t.elem, path.key(k)) for k, e in obj.items()})
    if isinstance(t, Object) and isinstance(obj, dict):
        for k in obj:
            if k not in t.attrs:
                raise CodecError(f"unsupported attribute {k!r}", path)
        return Value.known(
            t, {k: _decode(obj.get(k), at, path.attr(k)) for k, at in t.attrs.items()}
        )
    raise CodecError(f"{t!r} is required", path)
