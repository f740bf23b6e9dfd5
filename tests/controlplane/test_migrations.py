"""The Alembic migrations build exactly the ORM schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from aios.controlplane.db import migrate
from aios.controlplane.db.base import Base
from aios.controlplane.db.engine import create_engine
from tests.controlplane.conftest import make_settings

TELEMETRY_TABLES = {
    "organizations",
    "devices",
    "detections",
    "detection_batches",
    "ingest_state",
    "dead_letters",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL to a database that has never been migrated."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    admin: str = request.getfixturevalue("pg_admin_url")
    name = f"aios_mig_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    yield admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def test_upgrade_builds_the_orm_schema_and_downgrade_removes_it(
    empty_url: str, tmp_path: Path
) -> None:
    engine = create_engine(make_settings(tmp_path, AIOS_DATABASE_URL=empty_url))
    try:
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        await migrate.upgrade(engine)  # idempotent
        assert await migrate.current_revision(engine) is not None

        def diff(sync: Connection) -> tuple[set[str], list[object]]:
            ctx = MigrationContext.configure(sync, opts={"compare_type": True})
            return set(inspect(sync).get_table_names()), compare_metadata(ctx, Base.metadata)

        async with engine.connect() as conn:
            tables, differences = await conn.run_sync(diff)
        assert tables >= TELEMETRY_TABLES
        assert differences == []

        await migrate.downgrade(engine, "base")
        async with engine.connect() as conn:
            tables, _ = await conn.run_sync(diff)
        assert not tables & TELEMETRY_TABLES
    finally:
        await engine.dispose()


def _schema(sync: Connection) -> dict[str, list[str]]:
    """Every table's columns (type, nullability, default), keys, indexes and constraints."""
    inspector = inspect(sync)
    schema: dict[str, list[str]] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        columns = [
            f"{c['name']} {c['type']} null={c['nullable']} default={c.get('default')}"
            for c in inspector.get_columns(table)
        ]
        parts: list[object] = [
            inspector.get_pk_constraint(table),
            inspector.get_foreign_keys(table),
            inspector.get_indexes(table),
            inspector.get_unique_constraints(table),
        ]
        schema[table] = columns + sorted(repr(part) for part in parts)
    return schema


async def test_each_downgrade_restores_the_schema_before_its_upgrade(
    empty_url: str, tmp_path: Path
) -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    engine = create_engine(make_settings(tmp_path, AIOS_DATABASE_URL=empty_url))
    try:
        before: dict[str, dict[str, list[str]]] = {}
        for revision in revisions:
            async with engine.connect() as conn:
                before[revision] = await conn.run_sync(_schema)
            await migrate.upgrade(engine, revision)
        for revision in reversed(revisions):
            await migrate.downgrade(engine, "-1")
            async with engine.connect() as conn:
                after = await conn.run_sync(_schema)
            assert after == before[revision], f"downgrade of {revision} left another schema"
    finally:
        await engine.dispose()


async def test_first_revision_id_is_stable() -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert scripts.get_revision("0001_telemetry").down_revision is None
