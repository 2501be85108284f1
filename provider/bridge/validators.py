"""Reusable attribute validators for schemas; each reports at the attribute's path.

Messages are parameters, so a resource keeps the words its users know. A ``detail`` is a
format string: ``{value}`` is the value as given, ``{error}`` what the parser objected to;
range messages also get ``{minimum}`` and ``{maximum}`` as written.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cty import Path, Value
from .diagnostics import Diagnostics
from .notation import parse_count_or_percentage, parse_duration, prefix_length
from .schema import Validator

__all__ = [
    "Message",
    "at_least",
    "between",
    "cidr",
    "count_or_percentage",
    "duration",
    "each",
    "ipv4",
    "matches",
    "netmask",
    "not_empty",
    "one_of",
]


@dataclass(frozen=True)
class Message:
    """A diagnostic's summary and detail; the detail is formatted with the facts."""

    summary: str
    detail: str

    def report(self, diagnostics: Diagnostics, path: Path, **facts: Any) -> None:
        diagnostics.error(self.summary, self.detail.format(**facts), path)


def matches(pattern: str, summary: str, rule: str) -> Validator:
    """The string value must match ``pattern`` entirely; ``rule`` says so in words."""
    compiled = re.compile(pattern)

    def check(value: Value, path: Path, diagnostics: Diagnostics) -> None:
        text = value.to_python()
        if not compiled.fullmatch(text):
            diagnostics.error(summary, f"{text!r} is not valid: {rule}", path)

    return check


def not_empty(summary: str, detail: str) -> Validator:
    """A list, set or map must have at least one element when it is set."""

    def check(value: Value, path: Path, diagnostics: Diagnostics) -> None:
        if len(value) == 0:
            diagnostics.error(summary, detail, path)

    return check


def each(validator: Validator) -> Validator:
    """``validator`` on every known element of a list, at the element's index."""

    def check(value: Value, path: Path, diagnostics: Diagnostics) -> None:
        for index, element in enumerate(value.payload):
            if element.is_known and not element.is_null:
                validator(element, path.index(index), diagnostics)

    return check


# -- numbers ------------------------------------------------------------------------------


def between(
    minimum: float,
    maximum: float = math.inf,
    *,
    whole: bool = False,
    summary: str = "Invalid value",
) -> Validator:
    """A number from ``minimum`` to ``maximum``; with ``whole``, also without a fraction."""

    def check(value: Value, path: Path, diagnostics: Diagnostics) -> None:
        number = value.to_python()
        if number < minimum:
            diagnostics.error(summary, f"{number} is less than {minimum}.", path)
        elif number > maximum:
            diagnostics.error(summary, f"{number} is more than {maximum}.", path)
        elif whole and number != int(number):
            diagnostics.error(summary, f"{number} is not a whole number.", path)

    return check


def at_least(minimum: float, *, whole: bool = False, summary: str = "Invalid value") -> Validator:
    """A number no smaller than ``minimum``; with ``whole``, also without a fraction."""
    return between(minimum, whole=whole, summary=summary)


def one_of(*allowed: object, summary: str = "Invalid value") -> Validator:
    """One of ``allowed``, said as "1 or 3" when it is not."""
    choices = " or ".join(str(a) for a in allowed)

    def check(value: Value, path: Path, diagnostics: Diagnostics) -> None:
        if value.to_python() not in allowed:
            diagnostics.error(summary, f"{value.to_python()} is not {choices}.", path)

    return check


# -- strings in a notation ----------------------------------------------------------------


def _parsed(parse: Callable[[str], object], invalid: Message) -> Validator:
    """The string must parse; else ``invalid`` with the parser's objection as ``{error}``."""

    def check(value: Value, path: Path, diagnostics: Diagnostics) -> None:
        text = value.to_python()
        try:
            parse(text)
        except ValueError as exc:
            invalid.report(diagnostics, path, value=text, error=exc)

    return check


def ipv4(
    invalid: Message = Message("Invalid address", "{value!r} is not an IPv4 address."),
) -> Validator:
    """An IPv4 address like ``10.0.0.5``."""
    return _parsed(ipaddress.IPv4Address, invalid)


def cidr(
    invalid: Message = Message(
        "Invalid network", "{value!r} is not a network in CIDR notation like 10.244.0.0/16."
    ),
) -> Validator:
    """An IPv4 or IPv6 network like ``10.244.0.0/16``, the prefix length written out (host
    bits may be set, as Go's ``net.ParseCIDR`` allows)."""
    return _parsed(_network, invalid)


def _network(text: str) -> None:
    if "/" not in text:
        raise ValueError(f"{text!r} has no prefix length")
    ipaddress.ip_network(text, strict=False)


def netmask(
    invalid: Message = Message(
        "Invalid netmask", "{value!r} is not a netmask like 255.255.255.0 or 24."
    ),
) -> Validator:
    """An IPv4 netmask, dotted (``255.255.255.0``) or as a prefix length (``24``, ``/24``)."""
    return _parsed(prefix_length, invalid)


def count_or_percentage(
    invalid: Message = Message(
        "Invalid value", "{error}: give a count like 2 or a percentage like 30%."
    ),
) -> Validator:
    """A whole number of at least 0 (``2``) or a percentage from 0% to 100% (``30%``)."""
    return _parsed(parse_count_or_percentage, invalid)


_TOO_SHORT = Message("Duration too short", "{value} is shorter than {minimum}.")
_TOO_LONG = Message("Duration too long", "{value} is longer than {maximum}.")


def duration(
    invalid: Message = Message("Invalid duration", "{error}"),
    *,
    minimum: str | None = None,
    maximum: str | None = None,
    too_short: Message = _TOO_SHORT,
    too_long: Message = _TOO_LONG,
) -> Validator:
    """A duration like ``90s``, ``30m`` or ``1h30m``, optionally from ``minimum`` to
    ``maximum`` (written the same way)."""
    low = 0.0 if minimum is None else parse_duration(minimum)
    high = math.inf if maximum is None else parse_duration(maximum)

    def check(value: Value, path: Path, diagnostics: Diagnostics) -> None:
        text = value.to_python()
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            invalid.report(diagnostics, path, value=text, error=exc)
            return
        facts = {"value": text, "minimum": minimum, "maximum": maximum}
        if seconds < low:
            too_short.report(diagnostics, path, **facts)
        elif seconds > high:
            too_long.report(diagnostics, path, **facts)

    return check
