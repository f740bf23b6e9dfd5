"""Tenant isolation, enumerated rather than sampled.

- Every GET route of the application (walked from ``app.routes``, so a new route is included
  without editing this file) is called as organization A before and after organization B has
  data of every kind (devices, users, tokens, pipelines, deployments, webhooks and deliveries,
  detections, rollups, events, acknowledgements, heartbeats, dead letters, completeness): A's
  answers do not change and never mention B. Called as B with A's ids, each answers 404; so does
  every route that changes something (PATCH, PUT, POST, DELETE on an id), and A's answers are
  still the same afterwards.
- A request session that was never given a scope refuses a Core statement on every tenant table;
  a bound one restricts Core statements at any depth and refuses raw SQL and foreign rows.
- Background code opens its connections only through the helpers that name a ``SystemScope``.
"""

from __future__ import annotations

import ast
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from sqlalchemy import Table, delete, func, insert, select, text, union_all, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from aios.controlplane.db.base import Base
from aios.controlplane.db.models import Device
from aios.controlplane.db.scoped_session import (
    TenantScopeError,
    bind_scope,
    scope_options,
    scoped_sessionmaker,
)
from aios.controlplane.db.tenant_criteria import tenant_column
from aios.controlplane.heartbeats.history import sample_heartbeats
from aios.controlplane.telemetry.records import Accepted, DeadLetterRow, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.controlplane.tenancy import OrgScope, SystemScope
from aios.shared.codec import encode
from aios.shared.messages import Event
from aios.shared.topics import Channel
from tests.controlplane.api import test_tenancy as tenancy
from tests.controlplane.api.conftest import Account
from tests.controlplane.messages import detection_batch, heartbeat, inbound

SRC = Path(__file__).resolve().parents[3] / "controlplane/src/aios/controlplane"
T0 = (time.time() // 3600) * 3600 - 7200  # two hours ago, on the hour
SINCE = datetime.fromtimestamp(T0 - 3600, UTC).isoformat()
UNTIL = datetime.fromtimestamp(T0 + 7200, UTC).isoformat()

# GET routes that return no organization's data (and why); every other GET route is checked.
NOT_TENANT_DATA = {
    "/": "a redirect to the console",
    "/health": "public status, no tenant data",
    "/metrics": "fleet-wide aggregates for the operator of the deployment (no tenant labels)",
    "/api/v1/system/diagnostics": "the replica's own MQTT and ingest counters",
}
NOT_TENANT_PREFIXES = ("/console", "/docs", "/redoc")
# Every route that changes an organization's resource by id, with a valid body: called by
# another organization, each must answer 404 and change nothing.
WRITES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("PATCH", "/api/v1/organizations/users/{user_id}"): {"full_name": "Mallory"},
    ("DELETE", "/api/v1/organizations/users/{user_id}"): None,
    ("PATCH", "/api/v1/fleet/{device_id}"): {"name": "pwned"},
    ("PUT", "/api/v1/fleet/{device_id}/status"): {"status": "offline"},
    ("DELETE", "/api/v1/fleet/{device_id}"): None,
    ("DELETE", "/api/v1/fleet/enrollment-tokens/{token_id}"): None,
    ("PATCH", "/api/v1/pipelines/{pipeline_id}"): {"name": "pwned"},
    ("POST", "/api/v1/pipelines/{pipeline_id}/validate"): {},
    ("POST", "/api/v1/pipelines/{pipeline_id}/execute"): {"tags": ["a"]},
    ("POST", "/api/v1/pipelines/{pipeline_id}/deployments/{deployment_id}/advance"): None,
    ("POST", "/api/v1/pipelines/{pipeline_id}/deployments/{deployment_id}/promote"): None,
    ("POST", "/api/v1/pipelines/{pipeline_id}/deployments/{deployment_id}/abort"): None,
    ("DELETE", "/api/v1/pipelines/{pipeline_id}"): None,
    ("PATCH", "/api/v1/notifications/webhooks/{webhook_id}"): {"name": "pwned"},
    ("POST", "/api/v1/notifications/webhooks/{webhook_id}/test"): None,
    ("DELETE", "/api/v1/notifications/webhooks/{webhook_id}"): None,
    ("PUT", "/api/v1/dashboard/events/{event_id}/ack"): None,
}
# Writes by id that are not a user's: the device uploads a snapshot with its own credential
# (tests/controlplane/api/test_snapshot_security.py).
NOT_USER_WRITES = {("PUT", "/api/v1/events/{event_id}/snapshot")}
# Routes whose answer for A's own ids is not 200 (the event has no snapshot file).
EXPECTED_STATUS = {"/api/v1/dashboard/events/{event_id}/snapshot": 404}
# Fields that change with time alone (the delivery job retries in the background).
VOLATILE = {
    "/api/v1/notifications/webhooks/{webhook_id}/deliveries": {
        "status", "attempts", "next_attempt_at", "last_status_code", "last_error", "delivered_at",
    },
}  # fmt: skip


@dataclass
class Tenant(tenancy.Tenant):
    """What :func:`tests.controlplane.api.test_tenancy.populate` makes, plus a webhook (with a
    delivery) and ingested telemetry."""

    webhook_id: str
    event_id: str

    def path_values(self) -> dict[str, str]:
        """A value of this tenant for every path parameter of the API."""
        return {
            "user_id": self.member_id,
            "device_id": self.device_id,
            "token_id": self.token_id,
            "pipeline_id": self.pipeline_id,
            "deployment_id": self.deployment_id,
            "version": "1",
            "webhook_id": self.webhook_id,
            "event_id": self.event_id,
        }

    def markers(self) -> set[str]:
        """Strings that only this tenant's data contains."""
        values = set(self.path_values().values()) - {"1"}
        return values | {self.owner.org_id, self.owner.user_id, self.owner.email}


def queries(path: str, mine: Tenant, others: list[Tenant]) -> dict[str, Any]:
    """Query parameters: explicit time ranges (answers comparable over time), ids as keys
    (a leak shows as a foreign id), and the other tenants' ids where a route takes a list."""
    ranged = {"since": SINCE, "until": UNTIL}
    by_path: dict[str, dict[str, Any]] = {
        "/api/v1/dashboard/analytics": {**ranged, "bucket": "1h", "group_by": "device"},
        "/api/v1/dashboard/analytics/events": {**ranged, "group_by": "device"},
        "/api/v1/dashboard/analytics/zones": {**ranged, "bucket": "1h", "group_by": "device"},
        "/api/v1/fleet/{device_id}/heartbeats": {**ranged, "bucket": "1h"},
        "/api/v1/pipelines/{pipeline_id}/diff": {"from": 1, "to": 1},
        "/api/v1/dashboard/acknowledgements": {
            "event_id": [mine.event_id, *(o.event_id for o in others)]
        },
    }
    return by_path.get(path, {})


def tenant_get_routes(app: Litestar) -> list[str]:
    paths = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "GET" not in route.methods:
            continue
        path = route.path_format
        if path in NOT_TENANT_DATA or path.startswith(NOT_TENANT_PREFIXES):
            continue
        paths.append(path)
    return sorted(paths)


def write_routes(app: Litestar) -> set[tuple[str, str]]:
    """(method, path) of every non-GET route that takes an id in its path."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "{" not in route.path_format:
            continue
        if route.path_format.startswith(NOT_TENANT_PREFIXES):
            continue
        for method in route.methods - {"GET", "HEAD", "OPTIONS"}:
            found.add((str(method), route.path_format))
    return found


def url_of(route: HTTPRoute | str, values: dict[str, str]) -> str:
    path = route if isinstance(route, str) else route.path_format
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    unknown = [n for n in names if n not in values]
    if unknown:
        pytest.fail(f"{path}: no test value for {unknown}: add one to Tenant.path_values")
    return path.format(**values)


async def ingest(engine: AsyncEngine, org: str, device: str, event_id: str) -> None:
    """Detections (and so rollups, completeness), an event, a heartbeat and a dead letter."""

    event = Event(
        id=event_id,
        event_type="intrusion",
        severity="critical",
        device_id=device,
        stream_id="cam1",
        ts=T0 + 5,
        zone_id="door",
    )
    items = [
        *(
            inbound(
                org,
                device,
                Channel.DETECTIONS,
                detection_batch(device, s, ts=T0 + 61 * s, zones=["door"]),
                s,
            )
            for s in (0, 1, 3)
        ),
        inbound(org, device, Channel.EVENTS, encode(event), 90),
        inbound(org, device, Channel.HEARTBEAT, heartbeat(device), 91),
        inbound(org, device, Channel.DETECTIONS, b"{not json", 92),
    ]
    classified = [classify(i, prefix="aios", max_bytes=1 << 20) for i in items]
    accepted = [c for c in classified if isinstance(c, Accepted)]
    dead = [c for c in classified if isinstance(c, DeadLetterRow)]
    assert (len(accepted), len(dead)) == (5, 1)
    await TelemetryStore(engine, auto_register=True).write(accepted, dead)
    async with engine.begin() as conn:
        await sample_heartbeats(conn)


async def populate(
    client: AsyncTestClient[Any], engine: AsyncEngine, owner: Account, tag: str
) -> Tenant:
    base = await tenancy.populate(client, owner, tag)
    h = owner.headers
    hook = await client.post(
        "/api/v1/notifications/webhooks",
        headers=h,
        json={"name": f"hook-{tag}", "url": f"https://hooks.example.com/{tag}"},
    )
    assert hook.status_code == 201, hook.text
    webhook_id = hook.json()["webhook"]["id"]
    tested = await client.post(f"/api/v1/notifications/webhooks/{webhook_id}/test", headers=h)
    assert tested.status_code == 201, tested.text
    event_id = f"evt-{uuid.uuid4().hex[:12]}"
    await ingest(engine, owner.org_id, base.device_id, event_id)
    ack = await client.put(f"/api/v1/dashboard/events/{event_id}/ack", headers=h)
    assert ack.status_code == 200, ack.text
    return Tenant(**vars(base), webhook_id=webhook_id, event_id=event_id)


def _without(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


async def answers(
    client: AsyncTestClient[Any], paths: list[str], mine: Tenant, others: list[Tenant]
) -> dict[str, tuple[int, str, Any]]:
    """Per route: status, body, and the body without its :data:`VOLATILE` fields."""
    out = {}
    for path in paths:
        r = await client.get(
            url_of(path, mine.path_values()),
            headers=mine.owner.headers,
            params=queries(path, mine, others),
        )
        stable = _without(r.json(), VOLATILE[path]) if path in VOLATILE else r.text
        out[path] = (r.status_code, r.text, stable)
    return out


async def test_every_route_shows_and_lets_a_tenant_touch_nothing_of_another(
    client: AsyncTestClient[Any], engine: AsyncEngine, owner: Account, other_owner: Account
) -> None:
    app = client.app
    assert isinstance(app, Litestar)
    paths = tenant_get_routes(app)
    assert len(paths) >= 25, paths  # the walk found the API, not an empty app
    a = await populate(client, engine, owner, "a")
    alone = await answers(client, paths, a, [])
    for path, (status, body, _) in alone.items():
        assert status == EXPECTED_STATUS.get(path, 200), (path, body)

    b = await populate(client, engine, other_owner, "b")
    together = await answers(client, paths, a, [b])
    for path in paths:
        (status, body, stable), (status_alone, _, stable_alone) = together[path], alone[path]
        assert (status, stable) == (status_alone, stable_alone), f"{path} changed with B's data"
        leaked = {m for m in b.markers() if m in body}
        assert not leaked, (path, leaked)
    # and B, with A's ids in the path, is told they do not exist
    for path in paths:
        if "{" in path:
            url = url_of(path, a.path_values())
            r = await client.get(url, headers=b.owner.headers, params=queries(path, b, [a]))
            assert r.status_code == 404, (url, r.text)

    # every write by id: B aimed at A's resources is told they do not exist, and nothing moved
    assert write_routes(app) - NOT_USER_WRITES == set(WRITES), "add the new route to WRITES"
    for (method, path), payload in WRITES.items():
        url = url_of(path, a.path_values())
        r = await client.request(method, url, headers=b.owner.headers, json=payload)
        assert r.status_code == 404, (method, url, r.text)
    after = await answers(client, paths, a, [b])
    for path in paths:
        assert after[path][::2] == together[path][::2], f"{path} changed by B's writes"


TENANT_TABLES = sorted(
    name for name, t in Base.metadata.tables.items() if tenant_column(t) is not None
)


@pytest.mark.parametrize("name", TENANT_TABLES)
async def test_a_request_session_without_scope_refuses_core_queries(name: str) -> None:
    # the statement is refused before it reaches the database: no schema is needed
    engine = create_async_engine("sqlite+aiosqlite://")
    table = Base.metadata.tables[name]
    try:
        async with scoped_sessionmaker(engine)() as session:
            with pytest.raises(TenantScopeError):
                await session.execute(select(func.count()).select_from(table))
            conn = await session.connection()
            with pytest.raises(TenantScopeError):
                await conn.execute(select(table.c[tenant_column(table) or "id"]))
    finally:
        await engine.dispose()


async def _two_orgs(engine: AsyncEngine) -> tuple[str, str]:
    a, b = f"org-{uuid.uuid4().hex[:8]}", f"org-{uuid.uuid4().hex[:8]}"
    orgs, devices = Base.metadata.tables["organizations"], Device.__table__
    assert isinstance(devices, Table)
    async with engine.begin() as conn:
        for org in (a, b):
            await conn.execute(insert(orgs).values(id=org, name=org))
            await conn.execute(insert(devices).values(id=f"{org}-d", org_id=org, name=org))
    return a, b


async def test_core_statements_are_restricted_at_any_depth(engine: AsyncEngine) -> None:
    a, b = await _two_orgs(engine)
    d = Base.metadata.tables["devices"].c
    mine = [d.id.in_([f"{a}-d", f"{b}-d"])]
    async with scoped_sessionmaker(engine)() as session:
        conn = await bind_scope(session, OrgScope(org_id=a)).connection()
        assert (await conn.execute(select(d.id).where(*mine))).scalars().all() == [f"{a}-d"]
        inner = select(d.id).where(*mine).scalar_subquery()
        nested = select(func.count()).select_from(Base.metadata.tables["devices"])
        assert await conn.scalar(nested.where(d.id.in_(inner))) == 1
        both = union_all(select(d.id).where(*mine), select(d.id).where(d.id == f"{b}-d"))
        assert (await conn.execute(both)).scalars().all() == [f"{a}-d"]
        assert (await conn.execute(update(d.id.table).where(*mine).values(name="x"))).rowcount == 1
        theirs = select(d.id).where(d.id == f"{b}-d").scalar_subquery()  # Core, in ORM
        mixed = select(Device.id, theirs).where(Device.id.in_([f"{a}-d", f"{b}-d"]))
        assert (await session.execute(mixed)).all() == [(f"{a}-d", None)]
        with pytest.raises(TenantScopeError):
            await conn.execute(text("SELECT id FROM devices"))
        with pytest.raises(TenantScopeError):
            await conn.execute(insert(d.id.table), [{"id": "intruder", "org_id": b, "name": "x"}])
        everyone = (
            select(d.id).where(*mine).execution_options(**scope_options(SystemScope(path="test")))
        )
        assert sorted((await conn.execute(everyone)).scalars()) == sorted([f"{a}-d", f"{b}-d"])
        assert (await conn.execute(delete(d.id.table).where(*mine))).rowcount == 1
        await session.rollback()
    async with scoped_sessionmaker(engine)() as session:
        with pytest.raises(TenantScopeError):  # a session never changes its scope
            bind_scope(bind_scope(session, OrgScope(org_id=a)), OrgScope(org_id=b))


def _engine_connections(path: Path) -> list[int]:
    """Lines of ``<...engine...>.begin()`` / ``.connect()`` calls in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"begin", "connect"}
        and "engine" in ast.unparse(node.func.value)
    ]


def test_background_connections_name_their_system_scope() -> None:
    allowed = {SRC / "db/scoped_session.py", SRC / "db/migrate.py"}  # the helpers; the schema
    bare = {
        str(path.relative_to(SRC)): lines
        for path in SRC.rglob("*.py")
        if path not in allowed and (lines := _engine_connections(path))
    }
    assert not bare, f"use system_transaction/system_connection with a SystemScope: {bare}"
    assert _engine_connections(SRC / "db/scoped_session.py")  # the scan does see them
