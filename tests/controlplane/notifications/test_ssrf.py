"""Webhooks cannot reach the control plane's own network (SSRF): internal destinations are
refused when a webhook is saved and again at delivery time, against the address actually
connected to; the delivery log tells nothing about ports; on-premises receivers are reached
through an explicit allow-list."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
import uuid
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.models import WebhookDelivery
from aios.controlplane.notifications.delivery import WebhookDispatcher
from aios.controlplane.notifications.outbox import enqueue
from tests.controlplane.api.conftest import Account
from tests.controlplane.notifications.receivers import WebhookServer
from tests.controlplane.notifications.test_delivery import add_webhook, note

BASE = "/api/v1/notifications/webhooks"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/api/v1/fleet",  # the control plane itself
        "http://127.0.0.1:5432/",  # its database
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[fd00:ec2::254]/latest/meta-data/",  # cloud metadata over IPv6
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://[::1]:8000/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0:5432/",
        "http://224.0.0.1/",
        "http://localhost:8000/",
        "http://hn:[x/",  # not parseable (found by schemathesis: was a 500)
    ],
)
async def test_internal_destinations_are_refused_when_saved(
    client: AsyncTestClient[Any], owner: Account, url: str
) -> None:
    created = await client.post(BASE, headers=owner.headers, json={"name": "x", "url": url})
    assert created.status_code == 400, created.text
    assert created.json()["field"] == "url"


async def test_an_update_cannot_point_a_webhook_inside(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    created = await client.post(
        BASE, headers=owner.headers, json={"name": "x", "url": "https://hooks.example.com/x"}
    )
    assert created.status_code == 201, created.text
    hook = created.json()["webhook"]["id"]
    moved = await client.patch(
        f"{BASE}/{hook}", headers=owner.headers, json={"url": "http://169.254.169.254/"}
    )
    assert moved.status_code == 400, moved.text


class Recorder(WebhookServer):
    """A receiver on ``host`` that records each request's Host header and answers ``status``."""

    def __init__(self, host: str = "127.0.0.1", status: int = 204, location: str = "") -> None:
        self.requests: list[dict[str, str]] = []
        self.status = status
        self.headers = {"Location": location} if location else {}
        super().__init__(host, self._answer)

    def _answer(self, headers: Message[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        self.requests.append({"host": headers.get("Host", "")})
        return self.status, {**self.headers, "Content-Length": "0"}


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


async def _deliver_once(engine: AsyncEngine, dispatcher: WebhookDispatcher, url: str) -> Any:
    org, hook = await add_webhook(engine, url)
    async with engine.begin() as conn:
        assert await enqueue(conn, [note(org, "device_offline", "cam-1")], cooldown_s=60) == 1
    try:
        async with engine.begin() as conn:
            assert await dispatcher.deliver_due(conn) >= 1
    finally:
        await dispatcher.close()
    async with engine.connect() as conn:
        return (
            await conn.execute(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook))
        ).one()


async def test_a_name_resolving_inside_is_not_delivered_to(
    engine: AsyncEngine, recorder: Recorder
) -> None:
    """Saved under a name (no address to refuse then), refused at delivery time."""
    dispatcher = WebhookDispatcher(timeout_s=5, max_attempts=3, retry_base_s=0.05)
    row = await _deliver_once(engine, dispatcher, f"http://localhost:{recorder.port}/hook")
    assert recorder.requests == []
    assert row.status == "pending"
    assert row.last_error == "destination not allowed"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Silent:
    """A TCP listener that accepts and then either hangs up at once or never answers."""

    def __init__(self, hang_up: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self.hang_up = hang_up
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.hang_up:
                conn.close()
            else:
                self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


async def test_the_delivery_log_does_not_tell_ports_apart(engine: AsyncEngine) -> None:
    """Closed, open-but-hanging-up and open-but-silent ports log the same error."""
    hang_up, silent = Silent(hang_up=True), Silent(hang_up=False)
    try:
        errors = set()
        for port in (_closed_port(), hang_up.port, silent.port):
            dispatcher = WebhookDispatcher(
                timeout_s=1, max_attempts=3, retry_base_s=0.05, allowed=("127.0.0.1/32",)
            )
            row = await _deliver_once(engine, dispatcher, f"http://127.0.0.1:{port}/")
            assert row.last_status_code is None
            errors.add(row.last_error)
    finally:
        hang_up.close()
        silent.close()
    assert errors == {"could not deliver"}


# Known, not yet found: an accepted server-side socket of one of this module's receivers is
# closed by the garbage collector around this test (a ResourceWarning). Ignored here only, so
# that the rest of the suite keeps warnings as errors; remove once the leak is found.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_the_allow_list_admits_an_on_premises_receiver(
    engine: AsyncEngine, recorder: Recorder
) -> None:
    dispatcher = WebhookDispatcher(
        timeout_s=5, max_attempts=3, retry_base_s=0.05, allowed=("127.0.0.0/8",)
    )
    row = await _deliver_once(engine, dispatcher, f"http://localhost:{recorder.port}/hook")
    assert (row.status, row.last_status_code) == ("delivered", 204)
    assert len(recorder.requests) == 1


async def test_the_connection_goes_to_the_address_that_was_checked(engine: AsyncEngine) -> None:
    """DNS rebinding: the name answers an allowed address when checked and an internal one
    right after; the request must go to the checked one, with the name as its Host."""
    allowed = Recorder(host="127.0.0.2")
    internal = Recorder(host="127.0.0.1")
    answers = ["127.0.0.2", "127.0.0.1", "127.0.0.1", "127.0.0.1"]

    async def rebinding(host: str, port: int) -> list[ipaddress.IPv4Address]:
        return [ipaddress.IPv4Address(answers.pop(0))]

    try:
        dispatcher = WebhookDispatcher(
            timeout_s=5,
            max_attempts=3,
            retry_base_s=0.05,
            allowed=("127.0.0.2/32",),
            resolve=rebinding,
        )
        name = f"hooks-{uuid.uuid4().hex[:6]}.example"
        # Both recorders listen on the same port number only by chance; use the allowed one's.
        row = await _deliver_once(engine, dispatcher, f"http://{name}:{allowed.port}/hook")
    finally:
        allowed.close()
        internal.close()
    assert row.status == "delivered"
    assert allowed.requests == [{"host": f"{name}:{allowed.port}"}]
    assert internal.requests == []


async def test_redirects_are_not_followed(engine: AsyncEngine) -> None:
    inside = Recorder()
    bouncer = Recorder(status=302, location=f"http://127.0.0.1:{inside.port}/")
    try:
        dispatcher = WebhookDispatcher(
            timeout_s=5, max_attempts=3, retry_base_s=0.05, allowed=("127.0.0.1/32",)
        )
        row = await _deliver_once(engine, dispatcher, f"http://127.0.0.1:{bouncer.port}/")
        await asyncio.sleep(0.1)
    finally:
        inside.close()
        bouncer.close()
    assert len(bouncer.requests) == 1
    assert inside.requests == []
    assert row.status == "pending"
    assert row.last_status_code == 302
