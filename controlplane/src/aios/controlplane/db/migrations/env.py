"""Alembic environment: runs on the connection handed over by :mod:`..migrate`."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from sqlalchemy import Connection

from aios.controlplane.db import models  # noqa: F401  (registers every table)
from aios.controlplane.db.base import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    # told the id of each revision once applied (``aios db upgrade``'s progress)
    on_applied = context.config.attributes.get("on_applied")

    def applied(
        ctx: MigrationContext,
        step: MigrationInfo,
        heads: Collection[Any],
        run_args: Mapping[str, Any],
    ) -> None:
        if on_applied is not None:
            on_applied(", ".join(step.destination_revision_ids))

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        on_version_apply=applied,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations through `aios db upgrade` (aios.controlplane.db.migrate)")
run_migrations(_connection)
