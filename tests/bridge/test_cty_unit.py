"""Exact-byte and behaviour checks against known cty encodings."""

from decimal import Decimal

import msgpack
import pytest

from provider.bridge.cty import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    UNKNOWN,
    CodecError,
    List,
    Map,
    Object,
    Path,
    Refinements,
    Set,
    Tuple,
    UnknownValueError,
    Value,
    decode_json_value,
    decode_msgpack,
    encode_json_value,
    encode_msgpack,
    type_from_json,
    type_to_json,
)

OBJ = Object({"a": STRING, "b": NUMBER})


def num(x):
    return Value.from_python(NUMBER, x)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Value.null(STRING), b"\xc0"),
        (Value.unknown(STRING), b"\xd4\x00\x00"),
        (Value.unknown(DYNAMIC), b"\xd4\x00\x00"),
        (Value.from_python(OBJ, {"b": 1, "a": "x"}), b"\x82\xa1a\xa1x\xa1b\x01"),
        (Value.from_python(OBJ, {"a": None, "b": UNKNOWN}), b"\x82\xa1a\xc0\xa1b\xd4\x00\x00"),
        (num(1), b"\x01"),
        (num(-1), b"\xff"),
        (num(300), b"\xcd\x01\x2c"),
        (num(1.5), b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"),
        (num(2**63), b"\xcb\x43\xe0\x00\x00\x00\x00\x00\x00"),  # beyond int64 but exact as float64
        (num(2**63 + 1), b"\xb39223372036854775809"),  # neither: decimal string
        (num("0.8"), b"\xa30.8"),  # 0.8 is not exact in binary
        (num(float("inf")), b"\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00"),
        (Value.from_python(List(BOOL), [True, False]), b"\x92\xc3\xc2"),
        (Value.from_python(Map(STRING), {"k": "v"}), b"\x81\xa1k\xa1v"),
        # refined unknowns: ext 12, payload is a map keyed by small ints
        (Value.unknown(STRING, Refinements(string_prefix="foo-")), b"\xc7\x07\x0c\x81\x02\xa4foo-"),
        (
            Value.unknown(STRING, Refinements(not_null=True, string_prefix="foo-")),
            b"\xc7\x09\x0c\x82\x01\xc2\x02\xa4foo-",
        ),
        (
            Value.unknown(NUMBER, Refinements(number_lower=(0, True))),
            b"\xc7\x05\x0c\x81\x03\x92\x00\xc3",
        ),
        (
            Value.unknown(List(STRING), Refinements(length_lower=1, length_upper=3)),
            b"\xc7\x05\x0c\x82\x05\x01\x06\x03",
        ),
    ],
)
def test_msgpack_exact_bytes(value, expected):
    assert encode_msgpack(value) == expected
    assert decode_msgpack(expected, value.type) == value


def test_dynamic_wraps_type_json_as_bin():
    v = Value.from_python(STRING, "hi")
    data = encode_msgpack(v, DYNAMIC)
    assert data == b'\x92\xc4\x08"string"\xa2hi'
    assert decode_msgpack(data, DYNAMIC) == v
    # the type may also arrive as a msgpack str
    assert decode_msgpack(msgpack.packb(['"string"', "hi"]), DYNAMIC) == v
    assert decode_msgpack(b"\xc0", DYNAMIC) == Value.null(DYNAMIC)
    assert decode_msgpack(b'\x92\xc4\x08"string"\xc0', DYNAMIC) == Value.null(STRING)


def test_unknown_ext_tolerance():
    assert decode_msgpack(b"\xd5\x00\x01\x02", STRING) == Value.unknown(
        STRING
    )  # ext 0, any payload
    assert decode_msgpack(b"\xd4\x05\x00", STRING) == Value.unknown(
        STRING
    )  # any code when len <= 1
    with pytest.raises(CodecError, match="unsupported extension"):
        decode_msgpack(b"\xd6\x05\x00\x00\x00\x00", STRING)
    big = msgpack.ExtType(12, msgpack.packb({2: "x" * 2000}))
    with pytest.raises(CodecError, match="oversize"):
        decode_msgpack(msgpack.packb(big), STRING)
    # refinements on a dynamic unknown are dropped; "definitely null" collapses to null
    assert decode_msgpack(b"\xd6\x0c\x81\x01\xc2\x00", DYNAMIC) == Value.unknown(DYNAMIC)
    assert decode_msgpack(b"\xc7\x03\x0c\x81\x01\xc3", STRING) == Value.null(STRING)
    with pytest.raises(CodecError, match="prefix"):
        decode_msgpack(b"\xd6\x0c\x81\x02\xa1x", NUMBER)


def test_long_prefix_is_truncated_like_cty():
    v = Value.unknown(STRING, Refinements(string_prefix="d" * 255 + "🤷🤷"))
    assert decode_msgpack(encode_msgpack(v), STRING).refinements.string_prefix == "d" * 255


def test_object_attribute_rules_on_decode():
    t = Object({"name": STRING, "note": STRING}, optional={"note"})
    assert decode_msgpack(msgpack.packb({"name": "a"}), t)["note"] == Value.null(STRING)
    with pytest.raises(CodecError, match="unsupported attribute") as e:
        decode_msgpack(msgpack.packb({"name": "a", "bogus": 1}), t)
    assert str(e.value.path) == "bogus"
    with pytest.raises(CodecError, match="missing name"):
        decode_msgpack(msgpack.packb({"note": "a"}), t)


def test_decode_errors_carry_path():
    t = Object({"hosts": List(Object({"name": STRING}))})
    with pytest.raises(CodecError) as e:
        decode_msgpack(msgpack.packb({"hosts": [{"name": 5}]}), t)
    assert str(e.value) == "hosts[0].name: a string is required"
    with pytest.raises(CodecError) as e:
        decode_msgpack(msgpack.packb({"m": {"k": "x"}}), Object({"m": Map(NUMBER)}))
    assert str(e.value.path) == 'm["k"]'


def test_numbers():
    big = "12345678901234567890123.5"
    assert decode_msgpack(msgpack.packb(big), NUMBER) == num(Decimal(big))
    assert decode_msgpack(msgpack.packb(0.5), NUMBER) == num("0.5")
    assert num(1) == num(1.0) == num(Decimal("1.000")) and hash(num(1)) == hash(num(Decimal("1.0")))
    assert num(Decimal("2.50")).payload == Decimal("2.5")
    with pytest.raises(CodecError):
        num(float("nan"))
    with pytest.raises(CodecError):
        num("1_000")


def test_sets_dedupe_and_canonical_order():
    data = msgpack.packb([3, 1, 1.0, 2])
    v = decode_msgpack(data, Set(NUMBER))
    assert v.to_python() == [1, 2, 3]
    assert v == Value.from_python(Set(NUMBER), [2, 3, 1])


def test_python_conversion():
    t = Object({"hosts": List(Object({"name": STRING, "tags": Map(STRING)}))})
    v = Value.from_python(t, {"hosts": [{"name": "a", "tags": {"k": UNKNOWN}}]})
    assert not v.is_fully_known() and v.is_known
    assert v["hosts"][0]["name"] == Value.from_python(STRING, "a")
    with pytest.raises(UnknownValueError) as e:
        v.to_python()
    assert str(e.value.path) == 'hosts[0].tags["k"]'
    with pytest.raises(CodecError) as e:
        Value.from_python(t, {"hosts": [{"name": 3}]})
    assert str(e.value.path) == "hosts[0].name"
    with pytest.raises(CodecError, match="unsupported attribute"):
        Value.from_python(t, {"hostz": []})
    assert Value.from_python(t, {}).to_python() == {"hosts": None}
    dyn = Value.from_python(DYNAMIC, {"a": [1, "x"]})
    assert dyn.type == Object({"a": Tuple([NUMBER, STRING])})


def test_type_json():
    t = Object({"b": List(NUMBER), "a": Tuple([STRING, DYNAMIC])}, optional={"b"})
    data = b'["object",{"a":["tuple",["string","dynamic"]],"b":["list","number"]},["b"]]'
    assert type_to_json(t) == data
    assert type_from_json(data) == t
    assert type_to_json(Set(Map(BOOL))) == b'["set",["map","bool"]]'
    with pytest.raises(CodecError):
        type_from_json(b'["object",{"a":"string"},["zzz"]]')
    assert repr(t) == "object({a=tuple([string, dynamic]), b=optional(list(number))})"


def test_json_values():
    t = Object({"n": NUMBER, "s": STRING, "b": BOOL, "d": DYNAMIC, "gone": STRING})
    data = (
        b'{"n": 0.10000000000000000000000001, "s": 12, "b": "true", '
        b'"d": {"value": [1], "type": ["list","number"]}}'
    )
    v = decode_json_value(data, t)
    assert v["n"].payload == Decimal("0.10000000000000000000000001")
    assert v["s"] == Value.from_python(STRING, "12") and v["b"].payload is True
    assert v["d"].type == List(NUMBER) and v["gone"].is_null
    assert encode_json_value(v) == (
        b'{"b":true,"d":{"value":[1],"type":["list","number"]},"gone":null,"n":0.10000000000000000000000001,"s":"12"}'
    )
    with pytest.raises(CodecError, match="not known") as e:
        encode_json_value(Value.from_python(Object({"x": List(STRING)}), {"x": [UNKNOWN]}))
    assert str(e.value.path) == "x[0]"
    with pytest.raises(CodecError, match="infinity"):
        encode_json_value(num(float("inf")))
    with pytest.raises(CodecError, match="unsupported attribute"):
        decode_json_value(b'{"zz": 1}', t)


def test_paths():
    assert str(Path.root().attr("hosts").index(0).attr("name")) == "hosts[0].name"
    assert str(Path.root().attr("tags").key("k")) == 'tags["k"]'
    assert Path.root().attr("a") == Path.root().attr("a")
