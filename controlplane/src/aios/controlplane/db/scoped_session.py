"""Organization scoping enforced by the session: the one place tenant isolation lives.

A :class:`ScopedSession` carries an :class:`~aios.controlplane.tenancy.OrgScope` in its
``info`` (see :func:`session_info`). Every ORM ``SELECT``, ``UPDATE`` and ``DELETE`` it runs gets
``org_id == scope.org_id`` added for every tenant model involved, through
:func:`~sqlalchemy.orm.with_loader_criteria` (so joins, relationship loads and Advanced
Alchemy's generic repositories are covered too), and every object it flushes must belong to that
organization. A tenant model is any mapped class with an ``org_id`` column (plus
:class:`Organization`, scoped by its ``id``), so a new model is covered without registration.

Forgetting the scope is impossible rather than unlikely: a query of tenant data in a scoped
session with no scope raises :class:`TenantScopeError`. Code that must see every organization
(login by email, enrollment by token, the ingest) asks for it explicitly with
``OrgScope.unrestricted()``. Raw ``text()`` SQL is not seen by the ORM and must not be used for
tenant data in request handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, event, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, with_loader_criteria

from aios.controlplane.db.base import Base
from aios.controlplane.db.models.organizations import Organization
from aios.controlplane.errors import ControlPlaneError
from aios.controlplane.tenancy import OrgScope

SCOPE_KEY = "aios.org_scope"


class TenantScopeError(ControlPlaneError):
    """Tenant data was queried or written outside of (or across) an organization scope."""


def session_info(scope: OrgScope) -> dict[str, Any]:
    """The ``info`` mapping of a session restricted to ``scope``."""
    return {SCOPE_KEY: scope}


def scope_of(session: Session) -> OrgScope | None:
    scope = session.info.get(SCOPE_KEY)
    return scope if isinstance(scope, OrgScope) else None


def _tenant_attribute(cls: type[Any]) -> str | None:
    if cls is Organization:
        return "id"
    mapper = inspect(cls, raiseerr=False)
    if mapper is not None and "org_id" in mapper.columns:
        return "org_id"
    return None


@cache
def _tenant_classes() -> tuple[tuple[type[Any], str], ...]:
    classes = []
    for mapper in Base.registry.mappers:
        attribute = _tenant_attribute(mapper.class_)
        if attribute is not None:
            classes.append((mapper.class_, attribute))
    return tuple(classes)


def _criterion(attribute: str, org_id: str) -> Callable[[Any], ColumnElement[bool]]:
    if attribute == "id":
        return lambda cls: cls.id == org_id
    return lambda cls: cls.org_id == org_id


class ScopedSession(Session):
    """A session that restricts every statement on tenant data to its :class:`OrgScope`."""


@event.listens_for(ScopedSession, "do_orm_execute")
def _restrict_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete or state.is_insert):
        return
    touches_tenant_data = any(
        _tenant_attribute(m.class_) is not None for m in state.all_mappers if isinstance(m, Mapper)
    )
    scope = scope_of(state.session)
    if scope is None:
        if touches_tenant_data:
            raise TenantScopeError("query of tenant data in a session without an org scope")
        return
    if scope.org_id is None:
        return
    if state.is_insert:
        if touches_tenant_data:
            raise TenantScopeError("bulk INSERT of tenant data in an org-scoped session")
        return
    org_id = scope.org_id
    state.statement = state.statement.options(
        *(
            with_loader_criteria(cls, _criterion(attribute, org_id), include_aliases=True)
            for cls, attribute in _tenant_classes()
        )
    )


@event.listens_for(ScopedSession, "before_flush")
def _check_writes(session: Session, _context: object, _instances: object) -> None:
    scope = scope_of(session)
    for obj in list(session.new) + list(session.dirty):
        attribute = _tenant_attribute(type(obj))
        if attribute is None:
            continue
        if scope is None:
            raise TenantScopeError(f"write of {type(obj).__name__} without an org scope")
        if scope.org_id is None:
            continue
        if obj in session.new and attribute == "org_id" and getattr(obj, "org_id", None) is None:
            obj.org_id = scope.org_id
        if getattr(obj, attribute) != scope.org_id:
            raise TenantScopeError(f"write of {type(obj).__name__} of another organization")
    for obj in session.deleted:
        attribute = _tenant_attribute(type(obj))
        if attribute is not None and scope is None:
            raise TenantScopeError(f"delete of {type(obj).__name__} without an org scope")
        foreign = (
            scope is not None
            and scope.org_id is not None
            and attribute is not None
            and getattr(obj, attribute) != scope.org_id
        )
        if foreign:
            raise TenantScopeError(f"delete of {type(obj).__name__} of another organization")


def scoped_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The request sessions' factory (pass it as ``session_maker`` to Advanced Alchemy's
    config: given only ``sync_session_class``, Advanced Alchemy replaces it with a plain
    ``Session`` and the scoping would silently vanish)."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=ScopedSession)
