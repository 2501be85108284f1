"""The plan derived from the schema alone, before a resource's own modify_plan."""

from __future__ import annotations

from provider.bridge.api import PlanRequest
from provider.bridge.cty import STRING, UNKNOWN, Path, Value
from provider.bridge.planning import defaults, plan_from_schema
from provider.bridge.schema import Attribute, Block, Schema

SCHEMA = Schema(
    Block(
        attributes=(
            Attribute("id", STRING, computed=True, use_state_for_unknown=True),
            Attribute("name", STRING, required=True, requires_replace=True),
            Attribute("note", STRING, optional=True),
            Attribute("stamp", STRING, computed=True),
            Attribute("zone", STRING, optional=True, computed=True),
        )
    )
)
T = SCHEMA.value_type()


def obj(**attrs: object) -> Value:
    return Value.from_python(T, attrs)


def request(prior: Value, config: Value, proposed: Value | None = None) -> PlanRequest:
    return PlanRequest(prior, config if proposed is None else proposed, config, b"private")


def test_create_marks_unset_computed_attributes_unknown() -> None:
    config = obj(name="a", zone="z1")
    plan = plan_from_schema(SCHEMA, request(Value.null(T), config))
    assert plan.planned_state == obj(name="a", zone="z1", id=UNKNOWN, stamp=UNKNOWN)
    assert plan.requires_replace == []
    assert plan.planned_private == b"private"


def test_no_change_keeps_the_prior_state() -> None:
    prior = obj(id="1", name="a", stamp="s", zone="z1")
    plan = plan_from_schema(SCHEMA, request(prior, obj(name="a"), proposed=prior))
    assert plan.planned_state == prior
    assert plan.requires_replace == []


def test_update_keeps_use_state_for_unknown_and_forgets_the_rest() -> None:
    prior = obj(id="1", name="a", stamp="s", zone="z1")
    proposed = obj(id="1", name="a", note="new", stamp="s", zone="z1")
    plan = plan_from_schema(SCHEMA, request(prior, obj(name="a", note="new"), proposed))
    assert plan.planned_state == obj(id="1", name="a", note="new", stamp=UNKNOWN, zone=UNKNOWN)
    assert plan.requires_replace == []


def test_changing_a_replacing_attribute_asks_for_replacement() -> None:
    prior = obj(id="1", name="a", stamp="s")
    proposed = obj(id="1", name="b", stamp="s")
    plan = plan_from_schema(SCHEMA, request(prior, obj(name="b"), proposed))
    assert plan.requires_replace == [Path.root().attr("name")]


def test_an_unknown_replacing_attribute_also_replaces() -> None:
    prior = obj(id="1", name="a", stamp="s")
    proposed = obj(id="1", name=UNKNOWN, stamp="s")
    plan = plan_from_schema(SCHEMA, request(prior, obj(name=UNKNOWN), proposed))
    assert plan.requires_replace == [Path.root().attr("name")]


def test_destroy_plans_null() -> None:
    prior = obj(id="1", name="a")
    plan = plan_from_schema(SCHEMA, request(prior, Value.null(T)))
    assert plan.planned_state.is_null


def test_an_unset_optional_computed_nested_attribute_keeps_its_prior_value() -> None:
    from provider.bridge.cty import NUMBER
    from provider.bridge.schema import NestedAttributes

    size = NestedAttributes((Attribute("gb", NUMBER, required=True),))
    schema = Schema(
        Block(
            attributes=(
                Attribute("name", STRING, required=True),
                Attribute("size", nested=size, optional=True, computed=True),
                Attribute("stamp", STRING, computed=True),
            )
        )
    )
    t = schema.value_type()
    prior = Value.from_python(t, {"name": "a", "size": {"gb": 4}, "stamp": "s"})
    proposed = Value.from_python(t, {"name": "a", "size": None, "stamp": "s"})  # as Terraform
    config = Value.from_python(t, {"name": "a"})
    plan = plan_from_schema(schema, PlanRequest(prior, proposed, config, b""))
    assert plan.planned_state == prior  # no change, so nothing becomes unknown


DEFAULTED = Schema(
    Block(
        attributes=(
            Attribute("name", STRING, required=True),
            Attribute("zone", STRING, optional=True, computed=True, default="z1",
                      requires_replace=True),
            Attribute("stamp", STRING, computed=True),
        )
    )
)  # fmt: skip
D = DEFAULTED.value_type()


def obj_d(**attrs: object) -> Value:
    return Value.from_python(D, attrs)


def test_an_unset_defaulted_attribute_is_planned_as_its_default() -> None:
    def plan(prior: dict | None, config: dict, proposed: dict | None = None) -> object:
        before = Value.null(D) if prior is None else Value.from_python(D, prior)
        after = Value.from_python(D, config)
        shown = after if proposed is None else Value.from_python(D, proposed)
        return plan_from_schema(DEFAULTED, PlanRequest(before, shown, after, b""))

    created = plan(None, {"name": "a"})
    assert created.planned_state == obj_d(name="a", zone="z1", stamp=UNKNOWN)
    # an update that changes something else still plans the default, not "known after apply"
    prior = {"name": "a", "zone": "z1", "stamp": "s"}
    renamed = plan(prior, {"name": "b"}, {"name": "b", "zone": "z1", "stamp": "s"})
    assert renamed.planned_state == obj_d(name="b", zone="z1", stamp=UNKNOWN)
    assert renamed.requires_replace == []
    # set in the configuration: the configured value; unset again: back to the default
    configured = plan(prior, {"name": "a", "zone": "z2"}, prior | {"zone": "z2"})
    assert configured.planned_state["zone"] == Value.from_python(STRING, "z2")
    assert configured.requires_replace == [Path.root().attr("zone")]
    unset = plan(prior | {"zone": "z2"}, {"name": "a"}, prior | {"zone": "z2"})
    assert unset.planned_state["zone"] == Value.from_python(STRING, "z1")
    assert unset.requires_replace == [Path.root().attr("zone")]


def test_defaults_fill_only_what_the_configuration_leaves_null() -> None:
    config = Value.from_python(D, {"name": "a"})
    assert defaults(DEFAULTED, config) == {"zone": Value.from_python(STRING, "z1")}
    assert defaults(DEFAULTED, Value.from_python(D, {"name": "a", "zone": "z9"})) == {}
