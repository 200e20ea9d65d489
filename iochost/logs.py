"""How every iochost process logs: one format for ``iochost serve`` and ``iochost.run()``.

``text`` (the default) is one line per event on stderr -- what journald stores as is:
``2026-01-02 10:00:00,000 INFO    iochost.host: [mount oven] thermometer mounted: ...``.
``json`` (``iochost serve --log-format json``) is one JSON object per line with ``time``
(ISO 8601, UTC), ``level``, ``logger``, ``message``, ``mount`` (when the line is a mount's)
and ``exception`` (the formatted traceback, when there is one), for log shippers.

This module imports nothing of iochost, so every layer may use it.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_FORMATS = ("text", "json")


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, on one line (tracebacks included as a string)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        mount = getattr(record, "mount", None)
        if mount is not None:
            entry["mount"] = mount
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int | str, log_format: str = "text",
                      stream: TextIO | None = None) -> None:
    """Send every log record at ``level`` and above to ``stream`` (stderr) in
    ``log_format`` (one of LOG_FORMATS), replacing any earlier configuration."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter() if log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    if isinstance(level, str):
        level = logging.getLevelNamesMapping()[level.upper()]
    logging.basicConfig(level=level, handlers=[handler], force=True)
