"""One ``UPDATE`` for many rows (an executemany), each row picked by its key columns.

The writers of the ingest, the presence jobs and the webhook deliveries update a batch of rows
at once: each parameter set names the row by its key and carries that row's new values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.base import Base


async def update_rows(
    conn: AsyncConnection,
    entity: type[Base],
    key: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    **same: Any,
) -> None:
    """Update ``entity``'s row of each of ``rows``: the row whose ``key`` columns equal its values
    of those names gets its other values (every row has the same names); ``same``: values set on
    every row. Nothing is run for no rows."""
    if not rows:
        return
    stmt = update(entity)
    for name in key:
        stmt = stmt.where(getattr(entity, name) == bindparam(f"b_{name}"))
    columns: dict[str, Any] = {name: bindparam(name) for name in rows[0] if name not in key}
    params = [
        {(f"b_{name}" if name in key else name): value for name, value in row.items()}
        for row in rows
    ]
    await conn.execute(stmt.values({**columns, **same}), params)
