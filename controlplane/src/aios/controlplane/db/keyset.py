"""Keyset pagination, newest first, for the listings of time-stamped rows (events, detections).

A page is the rows strictly before the cursor on a key whose first column is the row's time;
the cursor is that key of the page's last row, a msgpack array (the time in microseconds) in
URL-safe base64 without padding. Each listing names its key columns and the types of the key
after the time (a cursor that does not decode to them is refused).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from sqlalchemy import ColumnElement, Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from aios.controlplane.errors import InvalidRequestError

RowT = TypeVar("RowT")
Column = ColumnElement[Any] | QueryableAttribute[Any]


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """What every listing filters on: times in ``[since, until)``, and each other field (a
    subclass adds its own) equal to the column of its name when given."""

    device_id: str | None = None
    stream_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def select_window(entity: type[RowT], window: Window, ts: Column) -> Select[RowT]:
    """The rows of ``entity`` in ``window``, whose time column is ``ts``."""
    stmt: Select[Any] = select(entity)
    for name in window.__struct_fields__:
        value = getattr(window, name)
        if value is not None and name not in ("since", "until"):
            stmt = stmt.where(getattr(entity, name) == value)
    if window.since is not None:
        stmt = stmt.where(ts >= window.since)
    if window.until is not None:
        stmt = stmt.where(ts < window.until)
    return stmt


def micros(ts: datetime) -> int:
    """``ts`` as whole microseconds since the epoch (a cursor's time)."""
    return round(ts.timestamp() * 1_000_000)


def _encode(key: tuple[Any, ...]) -> str:
    raw = msgspec.msgpack.encode((micros(key[0]), *key[1:]))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    shape: Any = tuple  # a tuple of exactly these types: (int, *types)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key: tuple[Any, ...] = msgspec.msgpack.decode(raw, type=shape[(int, *types)])
        return key
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidRequestError(
            "is not a cursor returned by this endpoint", field="cursor"
        ) from None


async def newest_first(
    session: AsyncSession,
    stmt: Select[RowT],
    key: Sequence[QueryableAttribute[Any]],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[RowT], str | None]:
    """Up to ``limit`` rows of ``stmt`` after ``cursor``, newest first on ``key``, and the cursor
    of the next page (``None`` on the last one). ``key``: the time column first; a cursor is
    refused unless the rest of it has these columns' types. ``session`` must already be scoped."""
    if cursor is not None:
        after = _decode(cursor, tuple(column.type.python_type for column in key[1:]))
        ts = datetime.fromtimestamp(after[0] / 1_000_000, UTC)
        stmt = stmt.where(tuple_(*key) < tuple_(ts, *after[1:]))
    stmt = stmt.order_by(*(column.desc() for column in key)).limit(limit + 1)
    rows: list[RowT] = list((await session.scalars(stmt)).all())
    if len(rows) <= limit or limit < 1:
        return rows[:limit], None
    last = rows[limit - 1]
    return rows[:limit], _encode(tuple(getattr(last, column.key) for column in key))
