"""A clock for tests of code that waits: sleeping moves it on and takes no time."""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """Stands in for ``time.monotonic`` and ``time.sleep`` (or the ``time`` module)."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
