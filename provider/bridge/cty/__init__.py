"""HashiCorp cty's type system and wire encodings, as Terraform uses them."""

from .json_codec import decode_json_value, encode_json_value
from .msgpack_codec import decode_msgpack, encode_msgpack
from .paths import AttributeName, CodecError, ElementKeyInt, ElementKeyString, Path, Step
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
    type_from_json,
    type_to_json,
)
from .values import UNKNOWN, Refinements, UnknownValueError, Value, implied_type, normalize_number

__all__ = [
    "BOOL",
    "DYNAMIC",
    "NUMBER",
    "STRING",
    "UNKNOWN",
    "AttributeName",
    "Bool",
    "CodecError",
    "DynamicPseudoType",
    "ElementKeyInt",
    "ElementKeyString",
    "List",
    "Map",
    "Number",
    "Object",
    "Path",
    "Refinements",
    "Set",
    "Step",
    "String",
    "Tuple",
    "Type",
    "UnknownValueError",
    "Value",
    "decode_json_value",
    "decode_msgpack",
    "encode_json_value",
    "encode_msgpack",
    "implied_type",
    "normalize_number",
    "type_from_json",
    "type_to_json",
]
