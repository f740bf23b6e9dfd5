"""Column types and constraint shapes that the migration scripts share.

A migration is history: what it builds must never change once released. These helpers therefore
only name shapes the scripts spelled out by hand before (the same DDL, byte for byte, checked by
``tests/controlplane/test_migrations.py`` against the ORM on SQLite and PostgreSQL); a new shape
gets a new helper, an existing one is never edited.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
"""JSON everywhere, JSONB on PostgreSQL."""
UTC_DATETIME = sa.DateTime(timezone=True)
T = TypeVar("T")

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""A 64-bit surrogate key; SQLite autoincrements only an ``INTEGER PRIMARY KEY``."""


def string(name: str, length: int = 64, *, nullable: bool = False) -> sa.Column[str]:
    """A ``VARCHAR(length)`` column (ids are 64 characters)."""
    return sa.Column(name, sa.String(length), nullable=nullable)


def required(type_: sa.types.TypeEngine[T], *names: str) -> list[sa.Column[T]]:
    """``NOT NULL`` columns of one type, in the order given."""
    return [sa.Column(name, type_, nullable=False) for name in names]


def optional(type_: sa.types.TypeEngine[T], *names: str) -> list[sa.Column[T]]:
    """Nullable columns of one type, in the order given."""
    return [sa.Column(name, type_, nullable=True) for name in names]


def timestamps() -> tuple[sa.Column[datetime], sa.Column[datetime]]:
    """``created_at`` and ``updated_at``, both required."""
    return (
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )


def cascade_fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    """``table.column`` references ``target.id``; deleting the target deletes the row."""
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def org_fk(table: str) -> sa.ForeignKeyConstraint:
    return cascade_fk(table, "org_id", "organizations")


def device_fk(table: str) -> sa.ForeignKeyConstraint:
    return cascade_fk(table, "device_id", "devices")


def primary_key(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=op.f(f"pk_{table}"))


def unique(table: str, *columns: str) -> sa.UniqueConstraint:
    """A unique constraint named after the table and its first column."""
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{columns[0]}"))


def column_indexes(table: str, *columns: str) -> None:
    """One conventionally named index (``ix_<table>_<column>``) per column."""
    for column in columns:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def drop_tables(*tables: str) -> None:
    """Drop ``tables`` in the order given (dependents first); their indexes go with them."""
    for table in tables:
        op.drop_table(table)
