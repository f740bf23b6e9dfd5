"""A statement restricted to one organization: the rewriting behind tenant isolation.

:func:`restrict` is the one function that turns any statement (ORM or Core) into its
organization-scoped form; :mod:`aios.controlplane.db.scoped_session` calls it on every statement
a scoped session or connection executes. A *tenant table* is any table (or TableClause, such as
a TimescaleDB continuous aggregate) with an ``org_id`` column, plus ``organizations`` (by its
``id``), so a new table is covered without registration.

- ORM statements (``select(Device)``, ``update(DeploymentTarget)``...) get
  :func:`~sqlalchemy.orm.with_loader_criteria` for every tenant model, so joins, eager and
  relationship loads and Advanced Alchemy's repositories are covered.
- Core ``SELECT`` (at any depth: subqueries, ``IN (SELECT ...)``, unions), ``UPDATE`` and
  ``DELETE`` get ``<table>.org_id = :org`` for every tenant table in their FROM list.
- ``INSERT`` of tenant rows is checked, not rewritten: every row must name the scope's
  organization.
- Raw SQL (``text()``) cannot be seen into, so it is refused in an organization scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any, Unpack

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    CompoundSelect,
    Delete,
    Executable,
    Insert,
    Select,
    TableClause,
    TextClause,
    Update,
)
from sqlalchemy.orm import with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.selectable import Alias, FromClause, Join, TextualSelect
from sqlalchemy.sql.util import find_tables

from aios.controlplane.db.base import Base
from aios.controlplane.db.models.organizations import Organization
from aios.controlplane.errors import ControlPlaneError

ORGANIZATIONS = Organization.__tablename__
Restrictable = Select[Any] | CompoundSelect[Unpack[tuple[Any, ...]]] | Update | Delete


class TenantScopeError(ControlPlaneError):
    """Tenant data was queried or written outside of (or across) an organization scope."""


def tenant_column(table: FromClause) -> str | None:
    """The column that says which organization a row of ``table`` belongs to, if any."""
    name = getattr(table, "name", None)
    if isinstance(table, Alias):
        name = getattr(table.element, "name", None)
    if name == ORGANIZATIONS:
        return "id"
    return "org_id" if "org_id" in table.c else None


def _is_orm(statement: Executable) -> bool:
    return statement._propagate_attrs.get("compile_state_plugin") == "orm"


def touches_tenant_data(statement: Executable) -> bool:
    """Whether ``statement`` reads or writes a tenant table (raw SQL counts: it may)."""
    if isinstance(statement, (TextClause, TextualSelect)):
        return True
    if not isinstance(statement, (Select, CompoundSelect, Insert, Update, Delete)):
        return False
    tables = find_tables(statement, check_columns=True, include_aliases=True, include_crud=True)
    return any(tenant_column(t) is not None for t in tables)


def restrict(statement: Executable, org_id: str, rows: Sequence[Mapping[str, Any]]) -> Executable:
    """``statement`` restricted to ``org_id``; raises :class:`TenantScopeError` for what cannot
    be restricted (raw SQL, an INSERT of another organization's rows)."""
    if isinstance(statement, (TextClause, TextualSelect)):
        raise TenantScopeError("raw SQL cannot be restricted to an organization")
    if isinstance(statement, Insert):
        _check_insert(statement, org_id, rows)
        return statement
    if isinstance(statement, Update):
        _check_values(statement, org_id)
    if not isinstance(statement, (Select, CompoundSelect, Update, Delete)):
        return statement
    if not _is_orm(statement):
        return _restrict_core(statement, org_id)
    if _has_core_tenant_columns(statement):  # a Core table inside an ORM statement
        if statement._with_options:  # loader options cannot be cloned
            raise TenantScopeError("Core tenant columns in an ORM statement with options")
        statement = _restrict_core(statement, org_id)
    return statement.options(*_loader_criteria(org_id))


def _restrict_core(statement: Restrictable, org_id: str) -> Restrictable:
    """Every SELECT of the tree, and the UPDATE or DELETE, restricted to ``org_id``."""
    return visitors.cloned_traverse(
        statement,
        {},
        {
            "select": lambda s: _add_criteria(s, _surface_tables(s.get_final_froms()), org_id),
            "update": lambda s: _add_criteria(s, [s.table], org_id),
            "delete": lambda s: _add_criteria(s, [s.table], org_id),
        },
    )


def _has_core_tenant_columns(statement: Restrictable) -> bool:
    """Whether an ORM statement names a tenant table's column directly (not through its
    mapped class, whose columns carry ORM annotations)."""
    return any(
        isinstance(e, Column) and not e._annotations and isinstance(e.table, FromClause)
        and tenant_column(e.table) is not None
        for e in visitors.iterate(statement)
    )  # fmt: skip


def _surface_tables(froms: Sequence[FromClause]) -> Iterator[FromClause]:
    """The tables and table aliases of a FROM list (subqueries scope themselves)."""
    for f in froms:
        if isinstance(f, Join):
            yield from _surface_tables([f.left, f.right])
        elif isinstance(f, TableClause) or (
            isinstance(f, Alias) and isinstance(f.element, TableClause)
        ):
            yield f


def _add_criteria(stmt: Any, tables: Sequence[FromClause] | Iterator[FromClause], org: str) -> None:
    criteria = []
    for table in tables:
        column = tenant_column(table)
        if column is not None:
            criteria.append(table.c[column] == org)
    # what Select.where() / Update.where() do, applied to the clone in place
    stmt._where_criteria += tuple(criteria)


@cache
def _tenant_models() -> tuple[tuple[type[Any], str], ...]:
    found = []
    for mapper in Base.registry.mappers:
        column = tenant_column(mapper.local_table)
        if column is not None:
            found.append((mapper.class_, column))
    return tuple(found)


def _criterion(column: str, org_id: str) -> Callable[[Any], ColumnElement[bool]]:
    if column == "id":
        return lambda cls: cls.id == org_id
    return lambda cls: cls.org_id == org_id


def _loader_criteria(org_id: str) -> list[Any]:
    return [
        with_loader_criteria(cls, _criterion(column, org_id), include_aliases=True)
        for cls, column in _tenant_models()
    ]


def _name(table: FromClause) -> str:
    return str(getattr(table, "name", table))


def _value(value: Any) -> Any:
    return value.value if isinstance(value, BindParameter) else value


def _check_values(statement: Insert | Update, org_id: str) -> None:
    table = statement.table
    column = tenant_column(table) if isinstance(table, FromClause) else None
    if column is None:
        return
    for key, value in (statement._values or {}).items():
        name = key if isinstance(key, str) else getattr(key, "key", None)
        if name == column and _value(value) != org_id:
            raise TenantScopeError(f"write of {_name(table)} rows of another organization")


def _check_insert(statement: Insert, org_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
    table = statement.table
    column = tenant_column(table) if isinstance(table, FromClause) else None
    if column is None:
        return
    if statement._select_names is not None or statement._multi_values:
        raise TenantScopeError(f"INSERT ... SELECT into {_name(table)} in an organization scope")
    _check_values(statement, org_id)
    if statement._values and column in {getattr(k, "key", k) for k in statement._values}:
        return
    for row in rows or [{}]:
        if row.get(column) != org_id:
            raise TenantScopeError(f"write of {_name(table)} rows of another organization")
