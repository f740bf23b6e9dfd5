"""Organization scoping of tenant data, in one place.

Every query of tenant data takes an :class:`OrgScope` and applies it with :meth:`OrgScope.where`;
handlers receive the scope from the ``org_scope`` dependency (:func:`provide_org_scope`), never
from a request parameter. Until authentication exists the dependency answers "every
organization"; the accounts domain replaces :func:`provide_org_scope` with one that derives the
scope from the authenticated user (a one-line change in ``app.py``), and every query follows.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import QueryableAttribute

SelectT = TypeVar("SelectT", bound=Select[Any])


class OrgScope(msgspec.Struct, frozen=True, kw_only=True):
    """The organizations a caller may see: one (``org_id``) or, before auth exists, all."""

    org_id: str | None

    @classmethod
    def unrestricted(cls) -> OrgScope:
        return cls(org_id=None)

    @classmethod
    def single(cls, org_id: str) -> OrgScope:
        return cls(org_id=org_id)

    def where(
        self, stmt: SelectT, org_column: ColumnElement[str] | QueryableAttribute[str]
    ) -> SelectT:
        """``stmt`` restricted to this scope by its ``org_id`` column."""
        if self.org_id is None:
            return stmt
        return stmt.where(org_column == self.org_id)


async def provide_org_scope() -> OrgScope:
    """The ``org_scope`` dependency (no authentication yet: every organization)."""
    return OrgScope.unrestricted()
