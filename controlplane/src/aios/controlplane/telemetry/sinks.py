"""Where detection rows go: the one small interface of the hot path, two implementations.

- :class:`PostgresCopySink`: binary ``COPY`` through asyncpg (``copy_records_to_table``) on the
  flush's own connection, inside its transaction.
- :class:`ExecutemanySink`: a Core ``INSERT`` executemany (SQLite; also any other backend).

Both run inside the transaction the store opened, so the rows commit with their batch records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.models import Detection
from aios.controlplane.telemetry.records import DETECTION_COLUMNS, DetectionRow


class DetectionSink(Protocol):
    async def insert(self, conn: AsyncConnection, rows: Sequence[DetectionRow]) -> None:
        """Insert ``rows`` (in :data:`DETECTION_COLUMNS` order) within ``conn``'s transaction."""


class PostgresCopySink:
    async def insert(self, conn: AsyncConnection, rows: Sequence[DetectionRow]) -> None:
        if not rows:
            return
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection  # the asyncpg connection; the transaction is open on it
        if driver is None:  # pragma: no cover - only on a closed connection
            raise RuntimeError("no driver connection")
        await driver.copy_records_to_table(
            Detection.__tablename__, records=rows, columns=DETECTION_COLUMNS
        )


class ExecutemanySink:
    async def insert(self, conn: AsyncConnection, rows: Sequence[DetectionRow]) -> None:
        if not rows:
            return
        await conn.execute(
            insert(Detection), [dict(zip(DETECTION_COLUMNS, r, strict=True)) for r in rows]
        )


def sink_for(dialect_name: str) -> DetectionSink:
    """COPY on PostgreSQL, executemany elsewhere."""
    return PostgresCopySink() if dialect_name == "postgresql" else ExecutemanySink()
