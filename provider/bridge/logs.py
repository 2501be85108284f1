"""Provider logs in the shape go-plugin understands, so ``TF_LOG`` shows them with levels.

go-plugin reads the plugin's stderr line by line; a line that is a JSON object with
``@level`` and ``@message`` is re-logged by Terraform at that level under the provider's name,
any other line is shown as plain text. Extra keys (``tf_rpc``, ``tf_resource_type``, ``host``)
become key/value pairs in Terraform's log line.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any

__all__ = ["HclogJsonFormatter", "configure_logging", "log_context"]

_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}
TRACE = 5
logging.addLevelName(TRACE, "TRACE")
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class HclogJsonFormatter(logging.Formatter):
    """``@module`` is the provider's name and the package that logged (``NAME.bridge``)."""

    def __init__(self, provider_name: str) -> None:
        super().__init__()
        self.provider_name = provider_name

    def format(self, record: logging.LogRecord) -> str:
        package = record.name.removeprefix("provider.").split(".")[0]
        entry: dict[str, Any] = {
            "@level": "trace" if record.levelno <= TRACE else _LEVELS.get(record.levelno, "info"),
            "@message": record.getMessage(),
            "@module": f"{self.provider_name}.{package}",
            "@timestamp": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


def configure_logging(provider_name: str) -> None:
    """Log everything to stderr as hclog JSON; Terraform filters by ``TF_LOG`` itself."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(HclogJsonFormatter(provider_name))
    root = logging.getLogger("provider")
    root.handlers[:] = [handler]
    root.setLevel(TRACE)
    root.propagate = False


def log_context(**fields: object) -> dict[str, dict[str, object]]:
    """``extra=`` for a log call: fields that become key/value pairs in Terraform's log."""
    return {"extra": fields}
