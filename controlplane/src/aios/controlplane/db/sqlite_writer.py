"""SQLite's one writer path: every write transaction of an engine goes through one gate.

SQLite lets one transaction write at a time. Left to itself, a second writer waits in SQLite's
busy handler, which polls with growing sleeps (up to 100 ms) and favours whoever polls at the
right moment: under a few busy writers (ingest flushes, the presence sweep, jobs, API calls) one
of them waited for seconds, and a task that opened a second write transaction while holding one
waited for itself for the whole busy timeout, then failed with ``database is locked``.

:class:`SQLiteWriter` serializes writes in the application instead, in arrival order:

- A connection's first writing statement (anything but ``SELECT``, ``PRAGMA``, ``EXPLAIN`` and
  transaction control; a ``SAVEPOINT`` counts as writing) first takes the writer, an
  :class:`asyncio.Lock`, then issues ``BEGIN IMMEDIATE``, so SQLite never has to upgrade a read
  transaction to a write one half-way (which fails at once, whatever the busy timeout).
- The writer is given back when that transaction ends: its commit or rollback, or the
  connection's return to the pool (which rolls back what was left open).
- Reads take nothing: under WAL they run beside the writer, on their own connections.
- A task that already holds the writer and asks for it on another connection would wait for
  itself: it fails at once with ``database is locked`` (an ``OperationalError``, as before, so
  every caller's handling is unchanged) and the error is logged with the statement's verb.
- A writer that waits longer than the busy timeout fails the same way; one whose holder's task
  ended without giving it back (a leaked connection) takes it over.

The hooks are SQLAlchemy's synchronous events; under the asyncio engine they run inside its
greenlet, where :func:`sqlalchemy.util.await_` waits for the lock without blocking the loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_

log = logging.getLogger(__name__)

_NOT_WRITING = re.compile(
    r"\s*(SELECT|PRAGMA|EXPLAIN|VALUES|BEGIN|COMMIT|END|ROLLBACK|RELEASE)\b", re.IGNORECASE
)
_WRITE_VERB = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_TAKEOVER_CHECK_S = 1.0


def writes(statement: str) -> bool:
    """Whether ``statement`` needs the writer (a ``WITH`` query only if it modifies a table)."""
    head = statement.lstrip()
    if head[:4].upper() == "WITH":
        return _WRITE_VERB.search(head) is not None
    return _NOT_WRITING.match(head) is None


class SQLiteWriter:
    """The writer of one SQLite engine (see the module docstring)."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._holder: object | None = None  # the DBAPI connection in the write transaction
        self._owner: asyncio.Task[Any] | None = None
        self.nested_refused = 0
        self.takeovers = 0

    def install(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before_execute)
        event.listen(sync, "commit", self._on_commit)
        event.listen(sync, "rollback", self._on_rollback)
        event.listen(sync.pool, "reset", self._on_reset)
        for name in ("checkin", "invalidate", "close", "detach"):
            event.listen(sync.pool, name, self._on_gone)

    @property
    def held(self) -> bool:
        return self._holder is not None

    # --- taking and giving back ------------------------------------------------------------

    def _current_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock, self._loop = asyncio.Lock(), loop
            self._holder = self._owner = None
        return self._lock

    async def _acquire(self, holder: object, verb: str) -> None:
        lock = self._current_lock()
        task = asyncio.current_task()
        if self._holder is not None and self._owner is task:
            self.nested_refused += 1
            log.error("nested SQLite write transaction in one task refused (%s)", verb)
            raise sqlite3.OperationalError(
                "database is locked: this task already holds the SQLite writer"
                " on another connection (nested write transaction)"
            )
        deadline = time.monotonic() + self.wait_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise sqlite3.OperationalError(
                    f"database is locked: waited {self.wait_s:.0f} s for the SQLite writer"
                )
            try:
                await asyncio.wait_for(lock.acquire(), min(left, _TAKEOVER_CHECK_S))
                break
            except TimeoutError:
                owner = self._owner
                if owner is not None and owner.done() and lock.locked():
                    self.takeovers += 1
                    log.warning("the SQLite writer's holder ended without giving it back")
                    self._holder = self._owner = None
                    lock.release()
        self._holder, self._owner = holder, task

    def _release(self, holder: object) -> None:
        if self._holder is not holder or self._lock is None:
            return
        self._holder = self._owner = None
        if self._lock.locked():
            self._lock.release()

    # --- SQLAlchemy's events ---------------------------------------------------------------

    def _before_execute(
        self,
        conn: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if not writes(statement):
            return
        dbapi = conn.connection.dbapi_connection
        if dbapi is None or self._holder is dbapi:
            return
        await_(self._acquire(dbapi, statement.lstrip()[:10].split(" ")[0].upper()))
        try:
            if not _in_transaction(dbapi):
                cursor = dbapi.cursor()
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                finally:
                    cursor.close()
        except BaseException:
            self._release(dbapi)
            raise

    def _on_commit(self, conn: Connection) -> None:
        dbapi = conn.connection.dbapi_connection
        if dbapi is None or self._holder is not dbapi:
            return
        try:
            dbapi.commit()  # SQLAlchemy's own commit, next, finds nothing left to do
        except Exception:  # SQLAlchemy's commit raises it again, translated
            return  # still holding: given back by the rollback or the pool's reset
        self._release(dbapi)

    def _on_rollback(self, conn: Connection) -> None:
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and self._holder is dbapi:
            self._rollback_and_release(dbapi)

    def _on_reset(self, dbapi: Any, _record: Any, _state: Any) -> None:
        if self._holder is dbapi:
            self._rollback_and_release(dbapi)

    def _on_gone(self, dbapi: Any, *_args: Any) -> None:
        self._release(dbapi)

    def _rollback_and_release(self, dbapi: Any) -> None:
        try:
            dbapi.rollback()
        except Exception:  # a dead connection holds no SQLite lock any more
            log.debug("rollback of the SQLite writer's connection failed", exc_info=True)
        finally:
            self._release(dbapi)


def _in_transaction(dbapi: Any) -> bool:
    """Whether the driver's connection already has a transaction open (aiosqlite's adapter)."""
    inner = getattr(dbapi, "_connection", dbapi)
    return bool(getattr(inner, "in_transaction", False))
