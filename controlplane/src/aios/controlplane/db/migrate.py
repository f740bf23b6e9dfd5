"""Alembic, driven programmatically: no ``alembic.ini`` on disk is needed.

The scripts live in ``aios/controlplane/db/migrations``. Revision ids are short readable names
(``0001_telemetry``, then ``0002_...`` with ``down_revision = "0001_telemetry"``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "head"


def alembic_config(
    connection: Connection | None = None, on_applied: Callable[[str], None] | None = None
) -> Config:
    """An Alembic config for the packaged scripts, bound to ``connection`` when given;
    ``on_applied`` is told each revision id once its migration ran."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    if on_applied is not None:
        config.attributes["on_applied"] = on_applied
    return config


async def upgrade(
    engine: AsyncEngine, revision: str = HEAD, on_applied: Callable[[str], None] | None = None
) -> None:
    """Upgrade the database to ``revision`` (default: the latest), in one transaction;
    ``on_applied`` is told each revision as it is applied (progress)."""
    async with engine.begin() as conn:
        await conn.run_sync(
            lambda sync: command.upgrade(alembic_config(sync, on_applied), revision)
        )


async def pending(engine: AsyncEngine, revision: str = HEAD) -> list[str]:
    """The revisions :func:`upgrade` to ``revision`` would apply, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    current = await current_revision(engine)
    steps = scripts.iterate_revisions(revision, current)
    return [script.revision for script in reversed(list(steps))]


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (``None`` when never migrated)."""

    def read(sync: Connection) -> str | None:
        if not inspect(sync).has_table("alembic_version"):
            return None
        row = sync.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])

    async with engine.connect() as conn:
        return await conn.run_sync(read)
