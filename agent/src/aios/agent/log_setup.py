"""The agent's logs: JSON lines (``--log-format json`` or ``AIOS_AGENT_LOG_FORMAT=json``, for
journald or a log shipper) or readable key=value text (``console``, the default).

One stdlib root handler formats every record with structlog's ``ProcessorFormatter``: the
agent's ``logging.getLogger(__name__)`` loggers, structlog's, and libraries' (paho, ONNX
Runtime's Python side) alike. Each line carries what :mod:`structlog.contextvars` holds where
it was logged: ``org_id`` and ``device_id`` (bound by :class:`aios.agent.runtime.Agent` for
its whole run), ``stream`` (a camera node's id: its stream task and its capture thread).

A line never holds a frame, a password or a token: :func:`scrub_event` masks URI
credentials, replaces secret keys' values and shows arrays and bytes by their size only.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog
from structlog.typing import Processor

from aios.agent.sources.redaction import scrub

LogFormat = Literal["console", "json"]
FORMAT_ENV = "AIOS_AGENT_LOG_FORMAT"
_SECRET_KEYS = frozenset({"password", "token", "secret", "authorization", "enroll_token"})


def scrub_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: no credentials, frames or raw bytes in a line."""
    for key, value in event.items():
        if key.lower() in _SECRET_KEYS:
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif isinstance(value, bytes | bytearray | memoryview):
            event[key] = f"<{len(value)} bytes>"
        elif hasattr(value, "shape") and hasattr(value, "dtype"):  # a numpy array: a frame?
            event[key] = f"<array {tuple(value.shape)} {value.dtype}>"
    return event


def setup_logging(level: str, fmt: LogFormat, stream: TextIO | None = None) -> None:
    """Send every record at ``level`` or above to ``stream`` (stderr) as ``fmt``."""
    chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        scrub_event,
    ]
    if fmt == "json":
        render: list[Processor] = [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    else:
        render = [structlog.dev.ConsoleRenderer(colors=False)]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    structlog.configure(
        processors=[*chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
