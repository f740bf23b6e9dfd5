"""Whose data a query may touch: one organization (:class:`OrgScope`) or, on purpose, every
organization (:class:`SystemScope`).

A scope is a declared input: request handlers receive the caller's ``org_scope`` (or, for the
few endpoints without a caller, ``system_scope``) from the dependencies of
:mod:`aios.controlplane.accounts.dependencies`, and pass it to the services and query functions
they call, which bind it to the session they run on
(:func:`aios.controlplane.db.scoped_session.bind_scope`). The session then restricts every
statement, ORM or Core, to that scope (:mod:`aios.controlplane.db.tenant_criteria`); a request
session that was never given a scope refuses tenant data. Background work (ingest, jobs,
presence...) runs on connections marked with a :class:`SystemScope` that names it; the list is in
``docs/ARCHITECTURE.md``.
"""

from __future__ import annotations

import msgspec


class OrgScope(msgspec.Struct, frozen=True, kw_only=True):
    """One organization: every statement is restricted to rows whose ``org_id`` is ``org_id``."""

    org_id: str

    @classmethod
    def single(cls, org_id: str) -> OrgScope:
        return cls(org_id=org_id)


class SystemScope(msgspec.Struct, frozen=True, kw_only=True):
    """Every organization, on purpose; ``path`` names the system path that needs it (login by
    email, enrollment by token, the ingest, a job...), so each opt-out is explicit and
    greppable."""

    path: str


Scope = OrgScope | SystemScope


# The system paths of background work (each opens its connections with
# ``system_transaction``/``system_connection``); docs/ARCHITECTURE.md lists them all.
INGEST = SystemScope(path="ingest")
PRESENCE = SystemScope(path="presence")
LIVE_HUB = SystemScope(path="live hub")
CALLER_LOOKUP = SystemScope(path="caller lookup")
INVITATIONS = SystemScope(path="invitations")
STORAGE = SystemScope(path="storage maintenance")
HEALTH = SystemScope(path="health check")


def job_scope(name: str) -> SystemScope:
    """A scheduled job's transaction (presence sweep, rollouts, webhooks, retention...)."""
    return SystemScope(path=f"job {name}")
