"""Property tests: random types and values round-trip through every encoding."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provider.bridge.cty import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    AttributeName,
    ElementKeyInt,
    List,
    Map,
    Object,
    Refinements,
    Set,
    Tuple,
    Type,
    UnknownValueError,
    Value,
    decode_json_value,
    decode_msgpack,
    encode_json_value,
    encode_msgpack,
    type_from_json,
    type_to_json,
)

SETTINGS = settings(max_examples=300, deadline=None)
names = st.text(alphabet="abxyz_é<", min_size=1, max_size=3)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)


def _object(children: st.SearchStrategy[Type]) -> st.SearchStrategy[Type]:
    def with_optional(attrs: dict[str, Type]) -> st.SearchStrategy[Type]:
        if not attrs:
            return st.just(Object({}))
        return st.sets(st.sampled_from(sorted(attrs))).map(lambda opt: Object(attrs, opt))

    return st.dictionaries(names, children, max_size=3).flatmap(with_optional)


def _extend(children: st.SearchStrategy[Type]) -> st.SearchStrategy[Type]:
    return st.one_of(
        st.builds(List, children),
        st.builds(Set, children),
        st.builds(Map, children),
        st.lists(children, max_size=3).map(Tuple),
        _object(children),
    )


primitives = st.sampled_from([STRING, NUMBER, BOOL])
types = st.recursive(st.one_of(primitives, st.just(DYNAMIC)), _extend, max_leaves=6)
static_types = st.recursive(primitives, _extend, max_leaves=6)


def numbers(infinities: bool) -> st.SearchStrategy[object]:
    big = st.integers(2**63 - 2, 2**90) | st.integers(-(2**90), -(2**63) - 1)  # beyond int64
    digits = st.integers(-(10**40), 10**40) | st.integers(10**20, 10**40)  # many significant digits
    return st.one_of(
        st.integers(),
        big,
        st.builds(lambda i, p: Decimal(f"{i}E-{p}"), digits, st.integers(0, 45)),
        st.floats(allow_nan=False, allow_infinity=infinities),
    )


def refinements(t: Type) -> st.SearchStrategy[Refinements]:
    nn = st.booleans()
    if t == STRING:
        return st.builds(Refinements, not_null=nn, string_prefix=st.none() | texts)
    if t == NUMBER:
        bound = st.none() | st.tuples(numbers(False), st.booleans())
        return st.builds(Refinements, not_null=nn, number_lower=bound, number_upper=bound)
    if isinstance(t, (List, Set, Map)):
        n = st.none() | st.integers(0, 9)
        return st.builds(Refinements, not_null=nn, length_lower=n, length_upper=n)
    return st.builds(Refinements, not_null=nn)


def values(
    t: Type, unknowns: bool = True, infinities: bool = True, depth: int = 0
) -> st.SearchStrategy[Value]:
    def sub(ct: Type) -> st.SearchStrategy[Value]:
        return values(ct, unknowns, infinities, depth + 1)

    options = [st.just(Value.null(t))]
    if unknowns:
        options.append(
            st.just(Value.unknown(t))
            if t == DYNAMIC
            else refinements(t).map(lambda r: Value.unknown(t, r))
        )
    if t == DYNAMIC:
        options.append((types if depth < 2 else primitives).flatmap(sub))
    elif t == STRING:
        options.append(texts.map(lambda s: Value.from_python(t, s)))
    elif t == NUMBER:
        options.append(numbers(infinities).map(lambda n: Value.from_python(t, n)))
    elif t == BOOL:
        options.append(st.booleans().map(lambda b: Value.from_python(t, b)))
    elif isinstance(t, (List, Set)):
        options.append(st.lists(sub(t.elem), max_size=3).map(lambda es: Value.from_python(t, es)))
    elif isinstance(t, Map):
        options.append(
            st.dictionaries(texts, sub(t.elem), max_size=3).map(lambda d: Value.from_python(t, d))
        )
    elif isinstance(t, Tuple):
        options.append(st.tuples(*map(sub, t.elems)).map(lambda es: Value.from_python(t, list(es))))
    elif isinstance(t, Object):
        attrs = st.fixed_dictionaries({k: sub(at) for k, at in t.attrs.items()})
        options.append(attrs.map(lambda d: Value.from_python(t, d)))
    return st.one_of(options)


@SETTINGS
@given(types)
def test_type_json_round_trip(t: Type) -> None:
    assert type_from_json(type_to_json(t)) == t
    assert hash(type_from_json(type_to_json(t))) == hash(t)


@SETTINGS
@given(st.data(), types)
def test_msgpack_round_trip(data: st.DataObject, t: Type) -> None:
    v = data.draw(values(t))
    got = decode_msgpack(encode_msgpack(v, t), t)
    assert got == v
    assert hash(got) == hash(v)


@SETTINGS
@given(st.data(), types)
def test_json_round_trip(data: st.DataObject, t: Type) -> None:
    v = data.draw(values(t, unknowns=False, infinities=False))
    assert decode_json_value(encode_json_value(v, t), t) == v


@SETTINGS
@given(st.data(), static_types)
def test_python_round_trip(data: st.DataObject, t: Type) -> None:
    v = data.draw(values(t, unknowns=False))
    assert Value.from_python(t, v.to_python()) == v


def _at(v: Value, steps: tuple) -> Value:
    for step in steps:
        if isinstance(step, AttributeName):
            v = v[step.name]
        elif isinstance(step, ElementKeyInt):
            v = v.payload[step.index]  # works for sets too (canonical position)
        else:
            v = v[step.key]
    return v


@SETTINGS
@given(st.data(), types)
def test_to_python_refuses_unknown_with_path(data: st.DataObject, t: Type) -> None:
    v = data.draw(values(t))
    if v.is_fully_known():
        v.to_python()
        return
    with pytest.raises(UnknownValueError) as e:
        v.to_python()
    assert not _at(v, e.value.path.steps).is_known
