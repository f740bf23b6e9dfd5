"""The async engine and session factory, built from the settings (one per application).

SQLite connections get ``journal_mode=WAL`` (readers never block the writer),
``foreign_keys=ON``, ``synchronous=NORMAL`` and a busy timeout, and every write transaction of
the engine goes through its one :class:`~aios.controlplane.db.sqlite_writer.SQLiteWriter`
(``BEGIN IMMEDIATE`` under an asyncio lock, in arrival order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from aios.controlplane.db.sqlite_writer import SQLiteWriter
from aios.controlplane.settings import Settings

BUSY_TIMEOUT_S = 30


def create_engine(settings: Settings) -> AsyncEngine:
    """The engine for ``settings.database_url`` (creates the SQLite file's folder)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        SQLiteWriter(wait_s=BUSY_TIMEOUT_S).install(engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    finally:
        cursor.close()
