"""One JSON object per line on stderr: what a service manager's journal and log shippers read
without parsing prose. Callers pass only names, ids and numbers, never a password."""

from __future__ import annotations

import datetime
import json
import sys
import threading
from typing import Any

__all__ = ["log"]

_lock = threading.Lock()  # watcher threads and the main loop write whole lines, never mixed


def log(event: str, level: str = "info", **fields: Any) -> None:
    """Write one line: time, level, event, then the fields (None values left out)."""
    record = {
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "event": event,
        **{k: v for k, v in fields.items() if v is not None},
    }
    line = json.dumps(record, default=str, separators=(",", ":"))
    with _lock:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
