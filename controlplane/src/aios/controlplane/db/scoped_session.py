"""Organization scoping enforced where statements run: the one place tenant isolation lives.

A session is bound to a :data:`~aios.controlplane.tenancy.Scope` with :func:`bind_scope` (once:
binding it again to another scope raises). From then on every statement it executes, through
the ORM, ``session.execute()`` of a Core statement, or ``await session.connection()``, is
restricted to that scope by :func:`~aios.controlplane.db.tenant_criteria.restrict`, applied in a
``before_execute`` hook; objects it flushes must belong to that organization. A single
statement or connection may carry its own scope instead (:func:`scope_options`); code that
works for every organization on a connection of its own (the ingest, jobs, presence...) opens it
with :func:`system_transaction` or :func:`system_connection`, which name its
:class:`~aios.controlplane.tenancy.SystemScope` (``tests/controlplane/api/test_tenant_scope.py``
refuses any other ``engine.begin()``/``engine.connect()`` in the control plane).

Request sessions are :class:`ScopedSession`: one that was never bound refuses any statement on
tenant data (fails closed), so a handler that forgets its scope gets an error, not another
organization's rows. A :class:`~aios.controlplane.tenancy.SystemScope` is the explicit opt-out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from aios.controlplane.db.tenant_criteria import (
    TenantScopeError,
    restrict,
    tenant_column,
    touches_tenant_data,
)
from aios.controlplane.tenancy import OrgScope, Scope, SystemScope

__all__ = [
    "ScopedSession",
    "TenantScopeError",
    "bind_scope",
    "scope_of",
    "scope_options",
    "system_connection",
    "system_transaction",
]

SCOPE_KEY = "aios.org_scope"
_REQUIRED_KEY = "aios.scope_required"
_SESSION_OPTION = "aios_session_info"
SCOPE_OPTION = "aios_scope"

SessionT = TypeVar("SessionT", AsyncSession, Session)


class ScopedSession(Session):
    """A request session: refuses tenant data until :func:`bind_scope` gave it a scope."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.info[_REQUIRED_KEY] = True


def scope_options(scope: Scope) -> dict[str, Any]:
    """Execution options that run a statement or a connection in ``scope``."""
    return {SCOPE_OPTION: scope}


def session_info(scope: Scope) -> dict[str, Any]:
    """The ``info`` mapping of a session created already bound to ``scope``."""
    return {SCOPE_KEY: scope}


def scope_of(session: Session | AsyncSession) -> Scope | None:
    scope = session.info.get(SCOPE_KEY)
    return scope if isinstance(scope, (OrgScope, SystemScope)) else None


def bind_scope(session: SessionT, scope: Scope) -> SessionT:
    """``session``, restricted to ``scope`` from now on; a session never changes its scope."""
    current = scope_of(session)
    if current is not None and current != scope:
        raise TenantScopeError("a session cannot change its organization scope")
    session.info[SCOPE_KEY] = scope
    return session


@event.listens_for(Session, "after_begin")
def _mark_connection(session: Session, _tx: SessionTransaction, connection: Connection) -> None:
    # the session's info, not its scope: a scope bound after the transaction began still holds
    connection.execution_options(**{_SESSION_OPTION: session.info})


@event.listens_for(Engine, "before_execute", retval=True)
def _restrict_statement(
    conn: Connection,
    statement: Executable,
    multiparams: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    options: Mapping[str, Any],
) -> tuple[Executable, Sequence[Mapping[str, Any]], Mapping[str, Any]]:
    scope = options.get(SCOPE_OPTION)
    info = options.get(_SESSION_OPTION)
    if scope is None and info is not None:
        scope = info.get(SCOPE_KEY)
        if scope is None and info.get(_REQUIRED_KEY) and touches_tenant_data(statement):
            raise TenantScopeError("query of tenant data in a session without an org scope")
    if isinstance(scope, OrgScope):
        statement = restrict(statement, scope.org_id, multiparams or [params])
    return statement, multiparams, params


@event.listens_for(Session, "before_flush")
def _check_writes(session: Session, _context: object, _instances: object) -> None:
    if not session.info.get(_REQUIRED_KEY) and SCOPE_KEY not in session.info:
        return
    scope = scope_of(session)
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        column = tenant_column(obj.__table__) if hasattr(obj, "__table__") else None
        if column is None or isinstance(scope, SystemScope):
            continue
        if scope is None:
            raise TenantScopeError(f"write of {type(obj).__name__} without an org scope")
        if obj in session.new and column == "org_id" and getattr(obj, "org_id", None) is None:
            obj.org_id = scope.org_id
        if getattr(obj, column) != scope.org_id:
            raise TenantScopeError(f"write of {type(obj).__name__} of another organization")


def scoped_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """The request sessions' factory (pass it as ``session_maker`` to Advanced Alchemy's
    config: given only ``sync_session_class``, Advanced Alchemy replaces it with a plain
    ``Session`` and the scoping would silently vanish)."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=ScopedSession)


@asynccontextmanager
async def system_transaction(
    engine: AsyncEngine, scope: SystemScope
) -> AsyncIterator[AsyncConnection]:
    """``engine.begin()`` for a system path: a transaction that works for every organization
    and says so."""
    async with engine.begin() as conn:
        yield await conn.execution_options(**scope_options(scope))


@asynccontextmanager
async def system_connection(
    engine: AsyncEngine, scope: SystemScope
) -> AsyncIterator[AsyncConnection]:
    """``engine.connect()`` for a system path (reads, or transactions it manages itself)."""
    async with engine.connect() as conn:
        yield await conn.execution_options(**scope_options(scope))
