"""Alembic environment: runs on the connection handed over by :mod:`..migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from aios.controlplane.db import models  # noqa: F401  (registers every table)
from aios.controlplane.db.base import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations through `aios db upgrade` (aios.controlplane.db.migrate)")
run_migrations(_connection)
