"""Errors raised by :mod:`aios.controlplane`.

:class:`ControlPlaneError` is the root of every exception this package raises on purpose, so a
caller (the CLI, the HTTP error handlers) can catch the control plane's failures in one place.
Third-party errors (asyncpg, SQLAlchemy, paho-mqtt, amqtt) are translated into these at one
boundary each: the database in :mod:`aios.controlplane.db.engine`, the MQTT client library
(paho) in :mod:`aios.controlplane.mqtt.client`, the embedded broker (amqtt) in
:mod:`aios.controlplane.mqtt.embedded`.
"""

from __future__ import annotations


class ControlPlaneError(Exception):
    """Root exception of ``aios.controlplane``."""


class SettingsError(ControlPlaneError, ValueError):
    """A setting is missing or invalid; ``name`` is the environment variable."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"{name}: {message}")


class DatabaseUnavailableError(ControlPlaneError):
    """The database could not be reached or refused the write (transient; retried)."""


class BatchRefusedError(ControlPlaneError):
    """The database refused the data of a write (a value it cannot hold, a constraint): retrying
    the same rows cannot succeed. ``reason`` is the database's reason, without SQL text or
    parameter values (see :mod:`aios.controlplane.db.storage.failures`)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class BrokerError(ControlPlaneError):
    """The MQTT broker could not be reached, or the embedded broker failed to start."""


class NotFoundError(ControlPlaneError, LookupError):
    """A resource does not exist (or belongs to another organization: same answer)."""


class InvalidRequestError(ControlPlaneError, ValueError):
    """A request parameter is invalid; ``field`` names it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class AuthenticationError(ControlPlaneError):
    """The caller is not authenticated (no, bad or expired credentials): HTTP 401."""


class PermissionDeniedError(ControlPlaneError):
    """The caller's role does not allow the operation: HTTP 403."""


class ConflictError(ControlPlaneError):
    """The request conflicts with existing data (a taken email, a duplicate name): HTTP 409."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message)


class RateLimitedError(ControlPlaneError):
    """Too many attempts; ``retry_after_s`` says when to try again: HTTP 429."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        self.message = message
        self.retry_after_s = retry_after_s
        super().__init__(message)


class StartupError(ControlPlaneError):
    """``aios serve``, ``ingest`` or ``db upgrade`` cannot start; the message is the one line
    the command prints (what is wrong and what to do)."""
