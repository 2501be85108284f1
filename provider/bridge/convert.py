"""One small converter per protocol message kind: our plain objects <-> tfplugin6 protobufs."""

from __future__ import annotations

from collections.abc import Callable

from ._generated import tfplugin6_pb2 as pb
from .cty import (
    AttributeName,
    ElementKeyString,
    Path,
    Type,
    Value,
    decode_json_value,
    decode_msgpack,
    encode_msgpack,
    type_to_json,
)
from .diagnostics import Diagnostic, DiagnosticError, Diagnostics
from .schema import Attribute, Block, NestedAttributes, NestedBlock, Nesting, Schema

__all__ = [
    "decode_dynamic",
    "decode_raw_state",
    "diagnostics_to_proto",
    "encode_dynamic",
    "path_to_proto",
    "schema_to_proto",
]

_MARKDOWN = pb.StringKind.MARKDOWN
_BLOCK_NESTING = {
    Nesting.SINGLE: pb.Schema.NestedBlock.SINGLE,
    Nesting.LIST: pb.Schema.NestedBlock.LIST,
    Nesting.SET: pb.Schema.NestedBlock.SET,
    Nesting.MAP: pb.Schema.NestedBlock.MAP,
    Nesting.GROUP: pb.Schema.NestedBlock.GROUP,
}
_OBJECT_NESTING = {
    Nesting.SINGLE: pb.Schema.Object.SINGLE,
    Nesting.LIST: pb.Schema.Object.LIST,
    Nesting.SET: pb.Schema.Object.SET,
    Nesting.MAP: pb.Schema.Object.MAP,
}


def decode_dynamic(value: pb.DynamicValue, type_: Type) -> Value:
    """Terraform always sends msgpack; an absent value (empty bytes) is null."""
    if value.msgpack:
        return decode_msgpack(value.msgpack, type_)
    if value.json:
        return decode_json_value(value.json, type_)
    return Value.null(type_)


def encode_dynamic(value: Value) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=encode_msgpack(value))


def decode_raw_state(
    raw: pb.RawState, type_: Type, clean: Callable[[bytes], bytes] = lambda data: data
) -> Value:
    """Stored state as JSON; ``clean`` may adapt the JSON (drop removed attributes) first."""
    if raw.flatmap and not raw.json:
        raise DiagnosticError(
            "State in a pre-0.12 format",
            "This state was written by Terraform older than 0.12, which this provider cannot "
            "read. Remove the resource from state (`terraform state rm`) and import it again.",
        )
    return decode_json_value(clean(raw.json), type_)


def path_to_proto(path: Path) -> pb.AttributePath:
    steps = []
    for step in path.steps:
        if isinstance(step, AttributeName):
            steps.append(pb.AttributePath.Step(attribute_name=step.name))
        elif isinstance(step, ElementKeyString):
            steps.append(pb.AttributePath.Step(element_key_string=step.key))
        else:
            steps.append(pb.AttributePath.Step(element_key_int=step.index))
    return pb.AttributePath(steps=steps)


def diagnostics_to_proto(diagnostics: Diagnostics) -> list[pb.Diagnostic]:
    return [_diagnostic_to_proto(d) for d in diagnostics]


def _diagnostic_to_proto(d: Diagnostic) -> pb.Diagnostic:
    out = pb.Diagnostic(severity=int(d.severity), summary=d.summary, detail=d.detail)
    if d.path is not None and d.path.steps:
        out.attribute.CopyFrom(path_to_proto(d.path))
    return out


def schema_to_proto(schema: Schema) -> pb.Schema:
    return pb.Schema(version=schema.version, block=_block_to_proto(schema.block, schema.version))


def _block_to_proto(block: Block, version: int = 0) -> pb.Schema.Block:
    return pb.Schema.Block(
        version=version,
        attributes=[_attribute_to_proto(a) for a in block.attributes],
        block_types=[_nested_block_to_proto(b) for b in block.blocks],
        description=block.description,
        description_kind=_MARKDOWN,
        deprecated=block.deprecated,
    )


def _attribute_to_proto(attr: Attribute) -> pb.Schema.Attribute:
    out = pb.Schema.Attribute(
        name=attr.name,
        description=attr.documentation,
        description_kind=_MARKDOWN,
        required=attr.required,
        optional=attr.optional,
        computed=attr.computed,
        sensitive=attr.sensitive,
        deprecated=attr.deprecated,
    )
    if attr.nested is not None:
        out.nested_type.CopyFrom(_object_to_proto(attr.nested))
    else:
        out.type = type_to_json(attr.value_type())
    return out


def _object_to_proto(nested: NestedAttributes) -> pb.Schema.Object:
    return pb.Schema.Object(
        attributes=[_attribute_to_proto(a) for a in nested.attributes],
        nesting=_OBJECT_NESTING[nested.nesting],
    )


def _nested_block_to_proto(nested: NestedBlock) -> pb.Schema.NestedBlock:
    return pb.Schema.NestedBlock(
        type_name=nested.name,
        block=_block_to_proto(nested.block),
        nesting=_BLOCK_NESTING[nested.nesting],
        min_items=nested.min_items,
        max_items=nested.max_items,
    )
