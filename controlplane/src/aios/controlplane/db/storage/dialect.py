"""The one place a statement depends on the database's dialect (PostgreSQL or SQLite).

:func:`conflict_insert` is the dialect's ``INSERT`` that knows ``ON CONFLICT`` (``DO NOTHING``,
``DO UPDATE``, ``excluded``): both dialects spell it the same, but SQLAlchemy has one class per
dialect. Domain modules ask here instead of choosing ``postgresql.insert`` or ``sqlite.insert``
themselves; :func:`is_postgres` is the test for the few PostgreSQL-only paths (advisory locks,
``COPY``, set-based statements).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect


def is_postgres(dialect: Dialect | str) -> bool:
    name = dialect if isinstance(dialect, str) else dialect.name
    return name == "postgresql"


def conflict_insert(dialect: Dialect | str, table: Any) -> Any:
    """``INSERT INTO table`` with ``on_conflict_do_nothing``/``on_conflict_do_update``."""
    return (postgresql.insert if is_postgres(dialect) else sqlite.insert)(table)
