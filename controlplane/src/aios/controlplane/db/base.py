"""The declarative base every ORM model of the control plane derives from.

It has its own registry and :class:`~sqlalchemy.MetaData` (with Advanced Alchemy's naming
convention and type map: ``datetime`` columns are timezone-aware UTC on every backend, ``dict``
is :data:`JSONDocument`), so it never mixes with another application's models
in Advanced Alchemy's process-wide default registry. Models work with Advanced Alchemy's generic
repositories and services (``SQLAlchemyAsyncRepository[Model]``).

New models: derive from :class:`Base` (composite or natural keys) or :class:`UUIDAuditBase`
(UUID primary key plus ``created_at``/``updated_at``), put them in ``db/models/``, import them in
``db/models/__init__.py`` and add an Alembic revision in ``db/migrations/versions``.
"""

from __future__ import annotations

from typing import Any

from advanced_alchemy.base import CommonTableAttributes, create_registry
from advanced_alchemy.mixins import AuditColumns, UUIDPrimaryKey
from sqlalchemy import JSON
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase

JSONDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")
"""JSON column type: JSONB on PostgreSQL, JSON elsewhere.

Use this rather than Advanced Alchemy's ``JsonB``, which fails with SQLAlchemy 2.1 (it calls the
removed ``sqlalchemy.util.portable_instancemethod``).
"""

_registry = create_registry(
    {dict: JSONDocument, dict[str, Any]: JSONDocument, dict[str, str]: JSONDocument}
)


class Base(CommonTableAttributes, AsyncAttrs, DeclarativeBase):
    """Root of the control plane's models (table name inferred from the class name)."""

    __abstract__ = True
    registry = _registry
    metadata = _registry.metadata


class UUIDAuditBase(UUIDPrimaryKey, AuditColumns, Base):
    """A model with a UUID ``id`` and ``created_at``/``updated_at`` columns."""

    __abstract__ = True


class AuditBase(AuditColumns, Base):
    """A model with ``created_at``/``updated_at`` and its own primary key."""

    __abstract__ = True
