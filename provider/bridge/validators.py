"""Reusable attribute validators for schemas; each reports at the attribute's path."""

from __future__ import annotations

import re

from .cty import Path, Value
from .diagnostics import Diagnostics
from .schema import Validator

__all__ = ["at_least", "matches", "not_empty"]


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


def at_least(minimum: int, *, whole: bool = False, summary: str = "Invalid value") -> Validator:
    """A number no smaller than ``minimum``; with ``whole``, also without a fraction."""

    def check(value: Value, path: Path, diagnostics: Diagnostics) -> None:
        number = value.to_python()
        if number < minimum:
            diagnostics.error(summary, f"{number} is less than {minimum}.", path)
        elif whole and number != int(number):
            diagnostics.error(summary, f"{number} is not a whole number.", path)

    return check
