"""The plan every resource gets before its own ``modify_plan``: derived from the schema alone.

- Attributes with a ``default`` that the configuration leaves unset are planned as the default.
- Other computed attributes the configuration leaves unset become unknown ("known after
  apply") on create, and on update when anything changed, unless marked
  ``use_state_for_unknown``.
- Attributes marked ``requires_replace`` whose planned value differs from the prior state are
  reported to Terraform, which then plans destroy-and-create.
"""

from __future__ import annotations

from .api import PlanRequest, PlanResponse
from .cty import Path, Value
from .schema import Schema

__all__ = ["defaults", "plan_from_schema"]


def defaults(schema: Schema, config: Value) -> dict[str, Value]:
    """The default of every attribute that has one and that ``config`` leaves null."""
    return {
        a.name: a.default_value()
        for a in schema.block.attributes
        if a.default is not None and config[a.name].is_null
    }


def plan_from_schema(schema: Schema, request: PlanRequest) -> PlanResponse:
    response = PlanResponse(request.proposed_new_state, request.prior_private)
    if request.destroying:
        return response
    prior, proposed, config = request.prior_state, request.proposed_new_state, request.config
    if not request.creating:
        # Terraform proposes null for an optional+computed *nested* attribute left out of
        # the configuration, where for other attributes it keeps the prior value: keep it
        # here too, or every plan would see a change.
        kept = {
            a.name: prior[a.name]
            for a in schema.block.attributes
            if a.nested is not None and a.computed and config[a.name].is_null
        }
        proposed = proposed.with_attributes(kept)
        response.planned_state = proposed
    if request.creating or proposed != prior:
        changes = {}
        for attr in schema.block.attributes:
            if not attr.computed or not config[attr.name].is_null or attr.default is not None:
                continue
            if attr.use_state_for_unknown and not request.creating:
                changes[attr.name] = prior[attr.name]
            else:
                changes[attr.name] = Value.unknown(attr.value_type())
        response.planned_state = proposed.with_attributes(changes)
    response.planned_state = response.planned_state.with_attributes(defaults(schema, config))
    if not request.creating:
        planned = response.planned_state
        response.requires_replace = [
            Path.root().attr(attr.name)
            for attr in schema.block.attributes
            if attr.requires_replace and planned[attr.name] != prior[attr.name]
        ]
    return response
