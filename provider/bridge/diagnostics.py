"""Diagnostics: what Terraform shows the user, with an optional attribute path.

One ``Diagnostics`` collector travels with each response. Domain code either adds to it or
raises ``DiagnosticError`` to abort an operation with one user-facing diagnostic.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .cty import Path

__all__ = ["Diagnostic", "DiagnosticError", "Diagnostics", "Severity"]


class Severity(enum.IntEnum):
    ERROR = 1
    WARNING = 2


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str = ""
    path: Path | None = None


class DiagnosticError(Exception):
    """Raised by domain code for a failure the user can act on; becomes one error diagnostic."""

    def __init__(self, summary: str, detail: str = "", path: Path | None = None) -> None:
        super().__init__(summary)
        self.diagnostic = Diagnostic(Severity.ERROR, summary, detail, path)


class Diagnostics:
    def __init__(self, items: Iterable[Diagnostic] = ()) -> None:
        self._items: list[Diagnostic] = []
        self.extend(items)

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self._items:  # the same problem found twice is shown once
            self._items.append(diagnostic)

    def error(self, summary: str, detail: str = "", path: Path | None = None) -> None:
        self.add(Diagnostic(Severity.ERROR, summary, detail, path))

    def warning(self, summary: str, detail: str = "", path: Path | None = None) -> None:
        self.add(Diagnostic(Severity.WARNING, summary, detail, path))

    def extend(self, items: Iterable[Diagnostic]) -> None:
        for item in items:
            self.add(item)

    def demote_errors(self, note: str) -> None:
        """Turn the errors into warnings, each with ``note`` added to its detail: for a
        failure that must not make Terraform taint (and later replace) what was created."""
        self._items = [
            Diagnostic(Severity.WARNING, d.summary, f"{d.detail} {note}".strip(), d.path)
            if d.severity is Severity.ERROR
            else d
            for d in self._items
        ]

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self._items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Diagnostics({self._items!r})"
