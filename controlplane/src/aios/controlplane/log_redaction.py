"""Keep tokens out of the server's log: the WebSocket takes its access token in the URL
(``/api/v1/ws?token=...``), and uvicorn logs every request's path with its query string (the
access log, and the ``WebSocket ... [accepted]`` lines). :class:`RedactTokens` rewrites such
values to ``[redacted]`` in those records before any handler formats them.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMETERS = ("token", "access_token", "refresh_token", "password")
_PATTERN = re.compile(
    r"([?&](?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&\s\"']+", flags=re.IGNORECASE
)
REDACTED = "[redacted]"
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


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
