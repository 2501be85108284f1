"""The schema's reusable validators and the notations they parse: good values pass, bad ones
get their exact diagnostic at the attribute's path."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provider.bridge.cty import NUMBER, STRING, List, Path, Value
from provider.bridge.diagnostics import Diagnostics
from provider.bridge.notation import parse_count_or_percentage, parse_duration, prefix_length
from provider.bridge.schema import Validator
from provider.bridge.validators import (
    Message,
    at_least,
    between,
    cidr,
    count_or_percentage,
    duration,
    each,
    ipv4,
    netmask,
    one_of,
)

PATH = Path.root().attr("block").attr("x")


def diagnosed(validator: Validator, value: object, type_: object = STRING) -> list[tuple]:
    """(summary, detail, path) of each diagnostic ``validator`` gives ``value``."""
    diagnostics = Diagnostics()
    validator(Value.from_python(type_, value), PATH, diagnostics)
    return [(d.summary, d.detail, d.path) for d in diagnostics]


# -- durations ---------------------------------------------------------------------------


@given(st.integers(0, 99), st.integers(0, 99), st.integers(0, 99), st.data())
@settings(deadline=None)
def test_any_duration_written_in_hours_minutes_and_seconds_parses_to_its_seconds(
    hours: int, minutes: int, seconds: int, data: st.DataObject
) -> None:
    parts = [(hours, "h"), (minutes, "m"), (seconds, "s")]
    kept = [p for p in parts if data.draw(st.booleans(), label=p[1])] or [parts[1]]
    text = "".join(f"{n}{unit}" for n, unit in kept)
    expected = sum(n * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in kept)
    assert parse_duration(f" {text} ") == expected
    assert diagnosed(duration(), text) == []


@pytest.mark.parametrize("text", ["", " ", "soon", "5", "1m1h", "1.5h", "-5m", "5 m", "300ms"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration like 30m, 1h or 90s"):
        parse_duration(text)
    detail = f"{text!r} is not a duration like 30m, 1h or 90s"
    assert diagnosed(duration(), text) == [("Invalid duration", detail, PATH)]


RANGED = duration(
    Message("Invalid ttl", "{value!r}: {error}"),
    minimum="5m",
    maximum="24h",
    too_short=Message("ttl too short", "{value} < {minimum}"),
    too_long=Message("ttl too long", "{value} > {maximum}"),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", []),
        ("24h", []),
        ("300s", []),
        ("4m59s", [("ttl too short", "4m59s < 5m", PATH)]),
        ("24h1s", [("ttl too long", "24h1s > 24h", PATH)]),
        ("x", [("Invalid ttl", "'x': 'x' is not a duration like 30m, 1h or 90s", PATH)]),
    ],
)
def test_a_duration_range_with_its_own_words(text: str, expected: list[tuple]) -> None:
    assert diagnosed(RANGED, text) == expected


def test_a_duration_range_in_default_words() -> None:
    rule = duration(minimum="1m", maximum="1h")
    assert diagnosed(rule, "30s") == [("Duration too short", "30s is shorter than 1m.", PATH)]
    assert diagnosed(rule, "2h") == [("Duration too long", "2h is longer than 1h.", PATH)]


# -- networks ----------------------------------------------------------------------------


@given(st.integers(0, 32))
def test_every_prefix_length_reads_as_dotted_mask_and_as_number(length: int) -> None:
    import ipaddress

    dotted = str(ipaddress.IPv4Network(f"0.0.0.0/{length}").netmask)
    assert prefix_length(dotted) == prefix_length(str(length)) == prefix_length(f"/{length}")
    assert prefix_length(dotted) == length
    assert diagnosed(netmask(), dotted) == []


@pytest.mark.parametrize("text", ["255.0.255.0", "33", "mask", "", "10.0.0.1"])
def test_bad_netmasks(text: str) -> None:
    detail = f"{text!r} is not a netmask like 255.255.255.0 or 24."
    assert diagnosed(netmask(), text) == [("Invalid netmask", detail, PATH)]


@given(st.ip_addresses(v=4))
def test_any_ipv4_address_is_one(address: object) -> None:
    assert diagnosed(ipv4(), str(address)) == []


@pytest.mark.parametrize("text", ["10.0.0", "10.0.0.256", "::1", "host", " 10.0.0.1"])
def test_bad_ipv4_addresses(text: str) -> None:
    detail = f"{text!r} is not an IPv4 address."
    assert diagnosed(ipv4(), text) == [("Invalid address", detail, PATH)]
    worded = ipv4(Message("Invalid gateway", "{value} is no gateway"))
    assert diagnosed(worded, text) == [("Invalid gateway", f"{text} is no gateway", PATH)]


@pytest.mark.parametrize("text", ["10.244.0.0/16", "10.96.0.0/12", "10.244.0.1/16", "fd00::/48"])
def test_networks(text: str) -> None:
    assert diagnosed(cidr(), text) == []


@pytest.mark.parametrize("text", ["10.244.0.0", "10.244.0.0/33", "10.244.0.0/16,fd00::/48", ""])
def test_bad_networks(text: str) -> None:
    detail = f"{text!r} is not a network in CIDR notation like 10.244.0.0/16."
    assert diagnosed(cidr(), text) == [("Invalid network", detail, PATH)]


def test_each_checks_every_known_element_at_its_index() -> None:
    addresses = Value.from_python(List(STRING), ["10.0.0.1", "x", None, "10.0.0.300"])
    diagnostics = Diagnostics()
    each(ipv4())(addresses, PATH, diagnostics)
    assert [(d.detail, d.path) for d in diagnostics] == [
        ("'x' is not an IPv4 address.", PATH.index(1)),
        ("'10.0.0.300' is not an IPv4 address.", PATH.index(3)),
    ]


# -- counts, shares, ranges, choices ------------------------------------------------------


@given(st.integers(0, 10**6))
def test_any_count_is_a_count(count: int) -> None:
    assert parse_count_or_percentage(str(count)) == (count, False)
    assert diagnosed(count_or_percentage(), str(count)) == []


@given(st.decimals(0, 100, places=2))
def test_any_percentage_from_0_to_100_is_a_share(percent: object) -> None:
    assert parse_count_or_percentage(f"{percent}%") == (float(percent), True)
    assert diagnosed(count_or_percentage(), f"{percent}%") == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("-1", "'-1' is negative"),
        ("101%", "'101%' is not a percentage from 0% to 100%"),
        ("-5%", "'-5%' is not a percentage from 0% to 100%"),
        ("half", "invalid literal for int() with base 10: 'half'"),
        ("x%", "could not convert string to float: 'x'"),
    ],
)
def test_bad_counts_and_percentages(text: str, error: str) -> None:
    rule = count_or_percentage(Message("Invalid max_unhealthy", "{error}: give a count."))
    assert diagnosed(rule, text) == [("Invalid max_unhealthy", f"{error}: give a count.", PATH)]


@pytest.mark.parametrize(
    ("number", "detail"),
    [(-1, "-1 is less than 0."), (11, "11 is more than 10."), (2.5, "2.5 is not a whole number.")],
)
def test_between(number: float, detail: str) -> None:
    rule = between(0, 10, whole=True, summary="Invalid count")
    assert diagnosed(rule, number, NUMBER) == [("Invalid count", detail, PATH)]
    assert diagnosed(rule, 0, NUMBER) == diagnosed(rule, 10, NUMBER) == []


def test_at_least_has_no_upper_bound() -> None:
    assert diagnosed(at_least(0.25), 10**9, NUMBER) == []
    assert diagnosed(at_least(0.25), 0.2, NUMBER) == [
        ("Invalid value", "0.2 is less than 0.25.", PATH)
    ]


def test_one_of() -> None:
    rule = one_of(0, 1, 3, summary="Invalid count")
    assert [diagnosed(rule, n, NUMBER) for n in (0, 1, 3)] == [[], [], []]
    assert diagnosed(rule, 2, NUMBER) == [("Invalid count", "2 is not 0 or 1 or 3.", PATH)]
