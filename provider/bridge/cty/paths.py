"""Attribute paths, and the error type that carries one.

Paths let every codec and conversion error say *where* in a nested value it
went wrong, which is what Terraform diagnostics need (``hosts[0].name``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AttributeName:
    """An object attribute step: ``.name``."""

    name: str


@dataclass(frozen=True, slots=True)
class ElementKeyString:
    """A map key step: ``["key"]``."""

    key: str


@dataclass(frozen=True, slots=True)
class ElementKeyInt:
    """A list/tuple index step (sets use the element's position): ``[0]``."""

    index: int


Step = AttributeName | ElementKeyString | ElementKeyInt


@dataclass(frozen=True, slots=True)
class Path:
    """An immutable sequence of steps from the root of a value."""

    steps: tuple[Step, ...] = ()

    @classmethod
    def root(cls) -> Path:
        return _ROOT

    def attr(self, name: str) -> Path:
        return Path((*self.steps, AttributeName(name)))

    def key(self, key: str) -> Path:
        return Path((*self.steps, ElementKeyString(key)))

    def index(self, index: int) -> Path:
        return Path((*self.steps, ElementKeyInt(index)))

    def __str__(self) -> str:
        out: list[str] = []
        for step in self.steps:
            if isinstance(step, AttributeName):
                out.append(("." if out else "") + step.name)
            elif isinstance(step, ElementKeyString):
                out.append(f"[{json.dumps(step.key, ensure_ascii=False)}]")
            else:
                out.append(f"[{step.index}]")
        return "".join(out)


_ROOT = Path()


class CodecError(ValueError):
    """A decoding, encoding or conversion failure at a specific path."""

    def __init__(self, message: str, path: Path = _ROOT) -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path.steps else message)
