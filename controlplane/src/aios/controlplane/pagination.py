"""Offset pagination shared by the list endpoints: the ``page`` dependency and the page shape.

Lists answer Advanced Alchemy's :class:`OffsetPagination` (``items``, ``limit``, ``offset``,
``total``); ``limit`` is bounded so that no request can ask for the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from litestar.di import Provide
from litestar.params import QueryParameter

MAX_PAGE = 200
T = TypeVar("T")


async def provide_page(
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
) -> LimitOffset:
    return LimitOffset(limit=limit, offset=offset)


PAGE_DEPENDENCY = {"page": Provide(provide_page)}


def to_page(
    rows: Sequence[Any], total: int, page: LimitOffset, schema: type[T]
) -> OffsetPagination[T]:
    """A page of ``schema`` items built from ORM rows (attributes read by name)."""
    return OffsetPagination(
        items=[msgspec.convert(r, schema, from_attributes=True) for r in rows],
        limit=page.limit,
        offset=page.offset,
        total=total,
    )
