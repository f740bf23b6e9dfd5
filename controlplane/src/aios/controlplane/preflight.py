"""What ``aios serve``, ``aios ingest`` and ``aios db upgrade`` check before they start, so that
the failures a newcomer meets first are one line that says what to do, not a traceback:

- the database: reachable, existing, accepting the login (:func:`check_database`), and, for
  ``serve`` and ``ingest``, at the schema this version needs (``aios db upgrade`` otherwise);
- the ports ``aios serve`` listens on (HTTP, the embedded broker) are free (:func:`check_port`).

Each failure is a :class:`~aios.controlplane.errors.StartupError`; driver errors (asyncpg,
aiosqlite, sockets) are translated here, at one boundary (:func:`database_error`).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from typing import TYPE_CHECKING

from aios.controlplane.errors import StartupError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncEngine

CONNECT_TIMEOUT_S = 15.0
UPGRADE_HINT = "run `aios db upgrade`"

# PostgreSQL SQLSTATEs a first start meets.
_NO_DATABASE = "3D000"
_BAD_LOGIN = {"28P01", "28000"}


def _where(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}"
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}"


def _sqlstate(exc: BaseException) -> str | None:
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__, exc.__context__):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def _os_error(exc: BaseException) -> OSError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError):
            return current
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def database_error(exc: BaseException, url: URL) -> StartupError:
    """One line for a failure to connect to (or log in to) the database at ``url``."""
    where = _where(url)
    code = _sqlstate(exc)
    if code == _NO_DATABASE:
        return StartupError(
            f"the database {url.database!r} does not exist on {where}: create it "
            f"(`createdb -h {url.host or 'localhost'} -p {url.port or 5432} "
            f"-U {url.username or 'postgres'} {url.database}`), then {UPGRADE_HINT}"
        )
    if code in _BAD_LOGIN:
        return StartupError(
            f"{where} refused the login of user {url.username!r}: check AIOS_DATABASE_URL"
        )
    if isinstance(exc, TimeoutError):
        return StartupError(
            f"no answer from {where} within {CONNECT_TIMEOUT_S:g} s: is it running, and is "
            "AIOS_DATABASE_URL right?"
        )
    os_error = _os_error(exc)
    if os_error is not None:
        reason = os.strerror(os_error.errno) if os_error.errno else str(os_error)
        return StartupError(
            f"cannot reach {where} ({reason}): is it running, and is AIOS_DATABASE_URL right?"
        )
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StartupError(f"{where}: {first}")


def head_revision() -> str:
    """The newest schema revision this version of the control plane ships."""
    from alembic.script import ScriptDirectory

    from aios.controlplane.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships migrations
    return head


async def check_database(engine: AsyncEngine, *, schema: bool) -> None:
    """Connect once (bounded); with ``schema``, also require the latest schema revision."""
    from aios.controlplane.db.migrate import current_revision

    try:
        revision = await asyncio.wait_for(current_revision(engine), CONNECT_TIMEOUT_S)
    except Exception as exc:  # driver errors of any kind: translated at this one boundary
        raise database_error(exc, engine.url) from exc
    if not schema:
        return
    head = head_revision()
    if revision is None:
        raise StartupError(f"the database has no AIOS schema yet: {UPGRADE_HINT} first")
    if revision != head:
        from alembic.script import ScriptDirectory

        from aios.controlplane.db.migrate import alembic_config

        known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
        if revision in known:
            raise StartupError(
                f"the database is at schema revision {revision}, this version needs {head}: "
                f"{UPGRADE_HINT}"
            )
        raise StartupError(
            f"the database is at schema revision {revision}, which this version of aios does "
            f"not know (newest: {head}): upgrade aios"
        )


def check_port(host: str, port: int, what: str, hint: str) -> None:
    """Fail with one line if nothing can listen on ``host:port`` (bound and released at once,
    with ``SO_REUSEADDR`` as asyncio's servers use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = (
                "address already in use"
                if exc.errno == errno.EADDRINUSE
                else (exc.strerror or str(exc))
            )
            raise StartupError(f"{what} cannot listen on {host}:{port}: {reason}; {hint}") from None
