"""Logging that protects people: connection ids only, never message text, tokens or addresses.

uvicorn's access log would record client addresses and query strings, so it is off; its
per-handshake "WebSocket /ws [accepted]" lines are dropped as noise, and websockets' per-socket
"connection open/closed" lines are kept below WARNING (their cost shows in a reconnect storm).
JSON lines on request (`HARBOR_LOG_FORMAT=json`) for log shippers.
"""

from __future__ import annotations

import json
import logging
import sys

from .settings import Settings
from .transport import CONNECTION_LOGGER


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


# uvicorn's handshake log lines ('%s - "WebSocket %s" [accepted]') begin with the client's
# address; they are recognised by this part of their format (pinned by
# tests/test_dependency_internals.py).
UVICORN_HANDSHAKE_LINE = '"WebSocket %s"'


class _DropHandshakeLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and UVICORN_HANDSHAKE_LINE in record.msg)


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("uvicorn.access").disabled = True
    quiet = logging.DEBUG if settings.log_level == "debug" else logging.WARNING
    logging.getLogger(CONNECTION_LOGGER).setLevel(quiet)
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
        uvicorn_logger.addFilter(_DropHandshakeLines())
