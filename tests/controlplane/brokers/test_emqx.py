"""EMQX's HTTP authn/authz hook: the decisions, and the endpoints as EMQX calls them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import AsyncTestClient

from aios.controlplane.accounts.passwords import hash_password
from aios.controlplane.brokers.access import DeviceIdentity, device_username
from aios.controlplane.brokers.controllers import HOOK_SECRET_HEADER, ROUTES, emqx_dependencies
from aios.controlplane.brokers.emqx import BrokerCredential, EmqxAuth, EmqxPolicy, Verdict
from aios.controlplane.error_handlers import EXCEPTION_HANDLERS
from aios.controlplane.fleet.device_logins import DeviceLoginGuard
from aios.controlplane.settings import Secret
from aios.shared.topics import Channel, build_topic, subscription

P = "aios"
SECRET = "hook-secret-for-tests"
POLICY = EmqxPolicy(
    prefix=P,
    service_username="aios-ingest",
    service_password=Secret("service-pw"),
    hook_secret=Secret(SECRET),
)
A1 = DeviceIdentity("org-a", "dev-1")
A2 = DeviceIdentity("org-a", "dev-2")
B1 = DeviceIdentity("org-b", "dev-1")


class CredentialTable:
    """An in-memory stand-in for the fleet domain's credentials table."""

    def __init__(self, rows: list[BrokerCredential]) -> None:
        self.rows = {(r.org_id, r.device_id): r for r in rows}

    async def __call__(self, device: DeviceIdentity, /) -> BrokerCredential | None:
        return self.rows.get((device.org_id, device.device_id))


async def _rows() -> CredentialTable:
    return CredentialTable(
        [
            BrokerCredential(
                org_id="org-a",
                device_id="dev-1",
                password_hash=await hash_password("pw-a1"),
                client_id="aios-org-a-dev-1",
            ),
            BrokerCredential(
                org_id="org-a", device_id="dev-2", password_hash=await hash_password("pw-a2")
            ),
            BrokerCredential(
                org_id="org-b",
                device_id="dev-1",
                password_hash=await hash_password("pw-b1"),
                enabled=False,
            ),
        ]
    )


@pytest.fixture(scope="module")
def table() -> CredentialTable:
    return asyncio.run(_rows())  # argon2 hashing is slow: once per module


@pytest.mark.parametrize(
    ("username", "password", "client_id", "result"),
    [
        (A1.username, "pw-a1", "aios-org-a-dev-1", Verdict.ALLOW),
        (A1.username, "pw-a1", "someone-else", Verdict.DENY),  # bound client id
        (A1.username, "pw-a2", "aios-org-a-dev-1", Verdict.DENY),  # a sibling's password
        (A1.username, "", "aios-org-a-dev-1", Verdict.DENY),
        (A2.username, "pw-a2", "anything", Verdict.ALLOW),  # no bound client id
        (B1.username, "pw-b1", None, Verdict.DENY),  # revoked (disabled)
        (device_username("org-a", "ghost"), "pw-a1", None, Verdict.DENY),  # no such device
        ("aios-ingest", "service-pw", None, Verdict.ALLOW),
        ("aios-ingest", "wrong", None, Verdict.DENY),
        ("dashboard-admin", "x", None, Verdict.IGNORE),  # not ours: next authenticator
    ],
)
async def test_authenticate(
    table: CredentialTable, username: str, password: str, client_id: str | None, result: Verdict
) -> None:
    decision = await EmqxAuth(POLICY, table).authenticate(username, password, client_id)
    assert decision.result is result
    assert decision.is_superuser is False


def _t(d: DeviceIdentity, channel: Channel) -> str:
    return build_topic(d.org_id, d.device_id, channel, prefix=P)


@pytest.mark.parametrize(
    ("username", "topic", "action", "result"),
    [
        (A1.username, _t(A1, Channel.DETECTIONS), "publish", Verdict.ALLOW),
        (A1.username, _t(A2, Channel.DETECTIONS), "publish", Verdict.DENY),
        (A1.username, _t(B1, Channel.DETECTIONS), "publish", Verdict.DENY),
        (A1.username, _t(A1, Channel.CONFIG_DESIRED), "publish", Verdict.DENY),
        (A1.username, _t(A1, Channel.CONFIG_DESIRED), "subscribe", Verdict.ALLOW),
        (A1.username, _t(B1, Channel.CONFIG_DESIRED), "subscribe", Verdict.DENY),
        (A1.username, _t(A1, Channel.ACK), "subscribe", Verdict.ALLOW),
        (A1.username, _t(A2, Channel.ACK), "subscribe", Verdict.DENY),
        (A1.username, _t(A1, Channel.ACK), "publish", Verdict.DENY),
        (A1.username, subscription(Channel.DETECTIONS, prefix=P), "subscribe", Verdict.DENY),
        (A1.username, _t(A1, Channel.DETECTIONS), "retain", Verdict.DENY),  # unknown action
        (B1.username, _t(B1, Channel.DETECTIONS), "publish", Verdict.DENY),  # revoked
        ("aios-ingest", subscription(Channel.DETECTIONS, prefix=P), "subscribe", Verdict.ALLOW),
        (
            "aios-ingest",
            subscription(Channel.EVENTS, prefix=P, share_group="aios-ingest"),
            "subscribe",
            Verdict.ALLOW,
        ),
        ("aios-ingest", "#", "subscribe", Verdict.DENY),
        ("aios-ingest", _t(B1, Channel.CONFIG_DESIRED), "publish", Verdict.ALLOW),
        ("aios-ingest", _t(B1, Channel.ACK), "publish", Verdict.ALLOW),
        ("aios-ingest", _t(B1, Channel.DETECTIONS), "publish", Verdict.DENY),
        ("dashboard-admin", "#", "subscribe", Verdict.IGNORE),
    ],
)
async def test_authorize(
    table: CredentialTable, username: str, topic: str, action: str, result: Verdict
) -> None:
    assert await EmqxAuth(POLICY, table).authorize(username, topic, action) is result


@pytest.fixture
async def client(table: CredentialTable) -> AsyncIterator[AsyncTestClient[Litestar]]:
    guard = DeviceLoginGuard()
    app = Litestar(
        route_handlers=ROUTES,
        dependencies={
            **emqx_dependencies(POLICY),
            "broker_credentials": Provide(lambda: table, sync_to_thread=False),
            "device_logins": Provide(lambda: guard, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
    )
    async with AsyncTestClient(app) as c:
        yield c


async def test_http_authn_and_authz(client: AsyncTestClient[Litestar]) -> None:
    headers = {HOOK_SECRET_HEADER: SECRET}
    ok = await client.post(
        "/api/v1/brokers/emqx/authn",
        json={"username": A1.username, "password": "pw-a1", "clientid": "aios-org-a-dev-1"},
        headers=headers,
    )
    assert ok.status_code == 200
    assert ok.json() == {"result": "allow", "is_superuser": False}
    bad = await client.post(
        "/api/v1/brokers/emqx/authn",
        json={"username": A1.username, "password": "nope", "clientid": "aios-org-a-dev-1"},
        headers=headers,
    )
    assert bad.json() == {"result": "deny", "is_superuser": False}
    for topic, result in ((_t(A1, Channel.DETECTIONS), "allow"), (_t(B1, Channel.EVENTS), "deny")):
        authz = await client.post(
            "/api/v1/brokers/emqx/authz",
            json={"username": A1.username, "topic": topic, "action": "publish"},
            headers=headers,
        )
        assert (authz.status_code, authz.json()) == (200, {"result": result})


@pytest.mark.parametrize("headers", [{}, {HOOK_SECRET_HEADER: "wrong"}])
async def test_http_hook_requires_the_shared_secret(
    client: AsyncTestClient[Litestar], headers: dict[str, str]
) -> None:
    for path, body in (
        ("authn", {"username": A1.username, "password": "pw-a1", "clientid": "aios-org-a-dev-1"}),
        (
            "authz",
            {"username": A1.username, "topic": _t(A1, Channel.HEARTBEAT), "action": "publish"},
        ),
    ):
        response = await client.post(f"/api/v1/brokers/emqx/{path}", json=body, headers=headers)
        assert response.status_code == 401


def test_no_configured_secret_refuses_everyone() -> None:
    assert not EmqxPolicy(hook_secret=None).secret_matches("")
    assert not EmqxPolicy(hook_secret=Secret("")).secret_matches("")
    assert EmqxPolicy(hook_secret=Secret("s")).secret_matches("s")
