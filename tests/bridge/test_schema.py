"""Schemas: value types for the codec, and their protobuf form for GetProviderSchema."""

from __future__ import annotations

import pytest

from provider.bridge._generated import tfplugin6_pb2 as pb
from provider.bridge.convert import schema_to_proto
from provider.bridge.cty import BOOL, NUMBER, STRING, List, Map, Object, Path, Set, Value
from provider.bridge.diagnostics import Diagnostics
from provider.bridge.schema import (
    Attribute,
    Block,
    NestedAttributes,
    NestedBlock,
    Nesting,
    Schema,
    validate_attributes,
    walk_attributes,
)

NODE = NestedAttributes(
    (Attribute("role", STRING, computed=True), Attribute("ip", STRING, computed=True)),
    Nesting.MAP,
)
DISK = Block(attributes=(Attribute("size", NUMBER, required=True),))
SCHEMA = Schema(
    Block(
        attributes=(
            Attribute("name", STRING, "The **name**.", required=True),
            Attribute("secret", STRING, optional=True, sensitive=True),
            Attribute("nodes", nested=NODE, computed=True),
        ),
        blocks=(
            NestedBlock("disk", DISK, Nesting.LIST, min_items=1),
            NestedBlock(
                "boot", Block(attributes=(Attribute("on", BOOL, optional=True),)), Nesting.SINGLE
            ),
        ),
    ),
    version=2,
)


def test_value_type() -> None:
    node = Object({"role": STRING, "ip": STRING})
    assert SCHEMA.value_type() == Object(
        {
            "name": STRING,
            "secret": STRING,
            "nodes": Map(node),
            "disk": List(Object({"size": NUMBER})),
            "boot": Object({"on": BOOL}),
        }
    )


def test_proto_form() -> None:
    proto = schema_to_proto(SCHEMA)
    assert proto.version == 2 and proto.block.version == 2
    name, secret, nodes = proto.block.attributes
    assert (name.type, name.required, name.description) == (b'"string"', True, "The **name**.")
    assert name.description_kind == pb.StringKind.MARKDOWN
    assert secret.sensitive and secret.optional
    assert nodes.type == b"" and nodes.nested_type.nesting == pb.Schema.Object.MAP
    assert [a.name for a in nodes.nested_type.attributes] == ["role", "ip"]
    disk, boot = proto.block.block_types
    assert (disk.type_name, disk.nesting, disk.min_items) == ("disk", pb.Schema.NestedBlock.LIST, 1)
    assert boot.nesting == pb.Schema.NestedBlock.SINGLE
    assert disk.block.attributes[0].type == b'"number"'


def test_attribute_needs_a_role_and_one_type() -> None:
    with pytest.raises(ValueError, match="must be required, optional or computed"):
        Attribute("x", STRING)
    with pytest.raises(ValueError, match="exactly one of type and nested"):
        Attribute("x", STRING, nested=NODE, computed=True)


def test_walk_reaches_attributes_in_nested_blocks_with_their_paths() -> None:
    value = Value.from_python(
        SCHEMA.value_type(),
        {"name": "n", "disk": [{"size": 1}, {"size": 2}], "boot": {"on": True}},
    )
    paths = [str(path) for _, _, path in walk_attributes(SCHEMA.block, value, Path.root())]
    assert paths == ["name", "secret", "nodes", "disk[0].size", "disk[1].size", "boot.on"]


def test_set_of_strings_round_trips_through_python() -> None:
    value = Value.from_python(Set(STRING), ["b", "a", "b"])
    assert value.to_python() == ["a", "b"]


@pytest.mark.parametrize(
    ("type_", "default", "stated"),
    [
        (STRING, "5m", "Wait. Default: `5m`."),
        (NUMBER, 10, "Wait. Default: `10`."),
        (BOOL, False, "Wait. Default: `false`."),
        (List(STRING), ["system:masters"], 'Wait. Default: `["system:masters"]`.'),
        (Object({"vcpu": NUMBER, "gb": NUMBER}), {"vcpu": 1, "gb": 2.0},
         "Wait. Default: `{ vcpu = 1, gb = 2 }`."),
    ],
)  # fmt: skip
def test_a_default_is_stated_in_the_description_terraform_shows(
    type_: object, default: object, stated: str
) -> None:
    attr = Attribute("x", type_, "Wait.", optional=True, computed=True, default=default)
    assert attr.documentation == stated
    assert attr.default_value() == Value.from_python(type_, default)
    proto = schema_to_proto(Schema(Block(attributes=(attr,))))
    assert proto.block.attributes[0].description == stated
    assert Attribute("y", STRING, "Wait.", optional=True).documentation == "Wait."


def test_a_default_needs_a_planned_top_level_attribute() -> None:
    with pytest.raises(ValueError, match="a default needs optional and computed"):
        Attribute("x", STRING, optional=True, default="a")
    defaulted = Attribute("x", STRING, optional=True, computed=True, default="a")
    with pytest.raises(ValueError, match="a nested attribute cannot have a default"):
        NestedAttributes((defaulted,))
    with pytest.raises(ValueError, match="a nested attribute cannot have a default"):
        NestedBlock("b", Block(attributes=(defaulted,)))


def test_validate_attributes_runs_validators_on_known_values_at_their_paths() -> None:
    def positive(value: Value, path: Path, diagnostics: Diagnostics) -> None:
        if value.to_python() <= 0:
            diagnostics.error("Not positive", str(value.to_python()), path)

    disk = Block(attributes=(Attribute("size", NUMBER, required=True, validators=(positive,)),))
    schema = Schema(Block(blocks=(NestedBlock("disk", disk, Nesting.LIST),)))
    value = Value.from_python(
        schema.value_type(), {"disk": [{"size": 1}, {"size": -2}, {"size": None}]}
    )
    diagnostics = Diagnostics()
    validate_attributes(schema.block, value, diagnostics)
    assert [(d.summary, str(d.path)) for d in diagnostics] == [("Not positive", "disk[1].size")]
