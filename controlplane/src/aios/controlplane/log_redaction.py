"""Keep tokens out of the server's log: the WebSocket takes its access token in the URL
(``/api/v1/ws?token=...``), and uvicorn logs every request's path with its query string (the
access log, and the ``WebSocket ... [accepted]`` lines). :class:`RedactTokens` rewrites such
values to ``[redacted]`` in those records before any handler formats them.

:func:`redact_event` is the structlog processor every log line goes through
(:mod:`aios.controlplane.log_setup`): it redacts the message the same way, replaces the value
of a secret key bound to an event (``password``, ``token``...) and never lets raw bytes (a
payload, an image) into a line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

SECRET_PARAMETERS = ("token", "access_token", "refresh_token", "password")
_PATTERN = re.compile(
    r"([?&](?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&\s\"']+", flags=re.IGNORECASE
)
REDACTED = "[redacted]"
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")
SECRET_KEYS = frozenset(
    (*SECRET_PARAMETERS, "secret", "secret_key", "authorization", "api_key", "api_secret")
)


def redact(text: str) -> str:
    """``text`` with the value of every secret query parameter replaced."""
    return _PATTERN.sub(rf"\1{REDACTED}", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "=" in record.msg:
            record.msg = redact(record.msg)
        return True


def install(loggers: tuple[str, ...] = UVICORN_LOGGERS) -> None:
    """Add the filter to ``loggers`` (once each)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def redact_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: secret query parameters out of the message, secret keys' values
    replaced, bytes shown by their length only."""
    for key, value in event.items():
        if key.lower() in SECRET_KEYS:
            event[key] = REDACTED
        elif isinstance(value, str) and "=" in value:
            event[key] = redact(value)
        elif isinstance(value, bytes | bytearray | memoryview):
            event[key] = f"<{len(value)} bytes>"
    return event
