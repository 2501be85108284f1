"""How Terraform users write durations, netmasks and shares, parsed the same way by the
schema's validators and by the code that uses the values."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["parse_count_or_percentage", "parse_duration", "prefix_length"]

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``1h30m``: the notation of Terraform's ``timeouts``
    blocks (Go's ``time.ParseDuration`` in whole hours, minutes and seconds). ValueError."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or not match:
        raise ValueError(f"{text!r} is not a duration like 30m, 1h or 90s")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def prefix_length(netmask: str) -> int:
    """``255.255.255.0`` -> 24; also accepts ``24`` or ``/24``. ValueError."""
    return ipaddress.ip_network(f"0.0.0.0/{netmask.strip().lstrip('/')}").prefixlen


def parse_count_or_percentage(text: str) -> tuple[float, bool]:
    """``"2"`` -> (2, False); ``"30%"`` -> (30.0, True). A count is a whole number of at
    least 0, a percentage from 0% to 100%. ValueError."""
    text = text.strip()
    if text.endswith("%"):
        percent = float(text[:-1])
        if not 0 <= percent <= 100:
            raise ValueError(f"{text!r} is not a percentage from 0% to 100%")
        return percent, True
    count = int(text)
    if count < 0:
        raise ValueError(f"{text!r} is negative")
    return count, False
