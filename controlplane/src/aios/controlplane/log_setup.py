"""Structured logs for the control plane: one line per event, as JSON (``AIOS_LOG_FORMAT=json``,
for a log shipper) or as readable key=value text (``console``, the default).

Everything goes through one stdlib root handler whose formatter is structlog's
:class:`~structlog.stdlib.ProcessorFormatter`, so our ``logging.getLogger(__name__)`` calls,
structlog loggers and third-party loggers (uvicorn and its access log, SQLAlchemy, Alembic,
amqtt, APScheduler) come out the same way, with:

- ``timestamp`` (UTC, ISO 8601), ``level``, ``logger`` and ``event`` (the message);
- the context bound with :mod:`structlog.contextvars` where it is known: ``org_id`` of an
  authenticated request (:class:`LogContextMiddleware`), ``org_id``/``device_id`` where the
  ingest speaks of one device's message;
- secrets redacted (:func:`aios.controlplane.log_redaction.redact_event`): tokens in URLs, and
  the values of keys such as ``password`` or ``token`` bound to an event.

:func:`configure` is called once by the CLI, before uvicorn starts (uvicorn is told not to
install its own handlers).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from litestar.types import ASGIApp, Receive, Scope, Send
from structlog.contextvars import bound_contextvars
from structlog.typing import Processor

from aios.controlplane.accounts.principal import Caller
from aios.controlplane.log_redaction import redact_event
from aios.controlplane.settings import LogFormat


def _pre_chain() -> list[Processor]:
    """What every record goes through, ours or a library's, before it is rendered."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_event,
    ]


def configure(level: str, fmt: LogFormat, *, stream: Any = None) -> None:
    """Route every logger of the process to one handler on ``stream`` (stderr by default)
    rendering ``fmt`` at ``level``; replaces handlers installed before (``basicConfig``)."""
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        final.append(structlog.processors.format_exc_info)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_pre_chain(), processors=[*final, renderer]
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.disabled = False  # a dictConfig run before (uvicorn's own) may have disabled it
        logger.setLevel(logging.NOTSET)  # the root's level, unless uvicorn's Config sets one
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_pre_chain(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    # Libraries that log every tick or state transition at INFO: keep them to warnings unless
    # the operator asked for DEBUG.
    if level != "DEBUG":
        for noisy in ("apscheduler", "transitions", "amqtt", "alembic.runtime.plugins"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


class LogContextMiddleware:
    """Binds the authenticated caller's ``org_id`` to every log line of its request (placed
    after the authentication middleware, which puts the caller in the scope)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        caller = scope.get("user")
        if not isinstance(caller, Caller):
            await self.app(scope, receive, send)
            return
        with bound_contextvars(org_id=caller.org_id):
            await self.app(scope, receive, send)
