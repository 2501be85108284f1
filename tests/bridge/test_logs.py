"""Log lines in the JSON shape go-plugin re-logs with levels."""

from __future__ import annotations

import json
import logging

from provider.bridge.diagnostics import Diagnostics, Severity
from provider.bridge.logs import TRACE, HclogJsonFormatter, log_context


def record(level: int, message: str, context: dict | None = None) -> dict[str, object]:
    logger = logging.getLogger("provider.photon.tenant")
    extra = (context or {}).get("extra")
    rec = logger.makeRecord(logger.name, level, __file__, 1, message, (), None, extra=extra)
    return json.loads(HclogJsonFormatter("photon").format(rec))


def test_levels_and_fields() -> None:
    line = record(logging.WARNING, "slow host", log_context(host="esx-1", tf_rpc="ReadResource"))
    assert line["@level"] == "warn" and line["@message"] == "slow host"
    assert line["@module"] == "photon.photon"
    assert line["host"] == "esx-1" and line["tf_rpc"] == "ReadResource"
    assert record(TRACE, "x")["@level"] == "trace"
    assert record(logging.DEBUG, "x")["@level"] == "debug"
    assert str(line["@timestamp"]).endswith("+00:00")


def test_diagnostics_are_deduplicated() -> None:
    diagnostics = Diagnostics()
    diagnostics.error("a", "b")
    diagnostics.error("a", "b")
    diagnostics.warning("a", "b")
    assert [d.severity for d in diagnostics] == [Severity.ERROR, Severity.WARNING]
    assert diagnostics.has_errors
