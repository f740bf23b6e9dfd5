"""The storage error policy: what a failed write means, decided at one boundary.

:func:`translate` turns whatever a write raised (SQLAlchemy, asyncpg, sqlite3, or the Python
conversion of a value while its rows were built) into one of two answers:

- :class:`~aios.controlplane.errors.BatchRefusedError`: the *data* is bad. PostgreSQL SQLSTATE
  classes ``22`` (data exception: a string too long, a number out of range, a NUL character),
  ``23`` (integrity constraint) and ``54`` (program limit exceeded); a driver or Python
  ``ValueError``/``OverflowError``/``UnicodeError`` raised while encoding a value (asyncpg's
  client-side ``DataError``, sqlite3's "int too large", ``datetime`` out of range); SQLite's
  ``IntegrityError``. Retrying the same rows cannot succeed: the ingest bisects the flush and
  dead-letters the message that fails alone.
- :class:`~aios.controlplane.errors.DatabaseUnavailableError`: anything else (connection refused
  or lost, the server shutting down, a lock timeout, ``database is locked``, a serialization
  failure, an error never seen before). Retried with backoff, nothing acknowledged: an unknown
  failure is never turned into data loss.

The reason kept is the database's own message (its class name and first line), never the SQL
text nor a parameter value, so it can go into a dead letter and a log line.
"""

from __future__ import annotations

import re
import sqlite3

from sqlalchemy.exc import DBAPIError, StatementError

from aios.controlplane.errors import BatchRefusedError, DatabaseUnavailableError

REFUSED_SQLSTATE_CLASSES = ("22", "23", "54")
REASON_CHARS = 300
_ARGUMENT_VALUE = re.compile(r"(query argument \$\d+ in \w+\(\)|query argument \$\d+): .*?(\(|$)")


def translate(exc: BaseException) -> BatchRefusedError | DatabaseUnavailableError:
    """The policy's answer for ``exc`` (see the module docstring)."""
    cause: BaseException = exc
    if isinstance(exc, StatementError) and exc.orig is not None:
        cause = exc.orig  # the driver's exception, without SQLAlchemy's [SQL: ...] suffix
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailableError(reason_of(cause))
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if isinstance(state, str) and state[:2] in REFUSED_SQLSTATE_CLASSES:
        return BatchRefusedError(reason_of(cause, state))
    if isinstance(cause, sqlite3.IntegrityError):
        return BatchRefusedError(reason_of(cause))
    if isinstance(cause, ValueError | OverflowError | UnicodeError) and not isinstance(
        cause, sqlite3.Error
    ):
        return BatchRefusedError(reason_of(cause))
    return DatabaseUnavailableError(reason_of(cause, state if isinstance(state, str) else None))


def reason_of(exc: BaseException, sqlstate: str | None = None) -> str:
    """``Class[SQLSTATE]: first line of the message``, bounded, without parameter values."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if text.startswith("<class '"):  # SQLAlchemy's asyncpg adapter: "<class 'x.Y'>: message"
        text = text.split(">: ", 1)[-1]
    text = _ARGUMENT_VALUE.sub(r"\1: <value> \2", text)
    name = type(exc).__name__ + (f"[{sqlstate}]" if sqlstate else "")
    return f"{name}: {text}"[:REASON_CHARS]
