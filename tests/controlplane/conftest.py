"""Control-plane fixtures: a migrated engine on each backend, settings, an MQTT publisher."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import paho.mqtt.client as paho
import pytest
from litestar.testing import AsyncTestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.app import create_app
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.settings import Settings
from aios.controlplane.telemetry.ingest import IngestService

T = TypeVar("T")

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def make_settings(tmp_path: Path, **env: str) -> Settings:
    base = {
        "AIOS_DATA_DIR": str(tmp_path / "data"),
        # 64 bytes or more: PyJWT warns about a shorter key for HS512
        "AIOS_SECRET_KEY": "test-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "AIOS_MQTT_CLIENT_ID": "test-ingest-" + uuid.uuid4().hex[:8],
        "AIOS_INGEST_FLUSH_INTERVAL_MS": "50",
        # Tests sign up many organizations in one database; the default is first-user.
        "AIOS_REGISTRATION": "open",
    }
    base.update(env)
    return Settings.from_env(base)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each backend (PostgreSQL: the session database, shared by tests)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_sqlalchemy_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'aios.db'}"


@asynccontextmanager
async def migrated_engine(tmp_path: Path, database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on ``database_url``, migrated to the latest revision; disposed after."""
    eng = create_engine(make_settings(tmp_path, AIOS_DATABASE_URL=database_url))
    await migrate.upgrade(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def engine(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated engine for ``database_url``."""
    async with migrated_engine(tmp_path, database_url) as eng:
        yield eng


@pytest.fixture
async def ingest(
    engine: AsyncEngine, tmp_path: Path, mqtt_url: str, topic_prefix: str
) -> AsyncIterator[IngestService]:
    """The MQTT ingest on ``engine``, connected to Mosquitto under this test's topic prefix."""
    settings = make_settings(
        tmp_path,
        AIOS_DATABASE_URL=str(engine.url.render_as_string(hide_password=False)),
        AIOS_MQTT_URL=mqtt_url,
        AIOS_MQTT_TOPIC_PREFIX=topic_prefix,
    )
    service = IngestService(settings, engine)
    await service.start()
    assert await service.subscriber.wait_connected(10), "ingest did not connect to Mosquitto"
    yield service
    await service.stop()


@asynccontextmanager
async def offline_client(
    engine: AsyncEngine, tmp_path: Path, **env: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app on ``engine``'s database, with no broker and no ingest, and ``env`` settings.

    The test client runs the app on its own event loop, so the app builds its own engine."""
    settings = make_settings(
        tmp_path,
        AIOS_DATABASE_URL=engine.url.render_as_string(hide_password=False),
        AIOS_MQTT_URL="mqtt://127.0.0.1:1",
        AIOS_INGEST_ENABLED="0",
        **env,
    )
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
async def client(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    """:func:`offline_client` (``api/`` has its own client)."""
    async with offline_client(engine, tmp_path) as test_client:
        yield test_client


@asynccontextmanager
async def sqlite_app_with_ingest(
    tmp_path: Path, mqtt_url: str, topic_prefix: str, **env: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The whole app in one process on a migrated SQLite file, its ingest subscribed to
    Mosquitto under ``topic_prefix``; ``env`` adds settings."""
    settings = make_settings(
        tmp_path,
        AIOS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'aios.db'}",
        AIOS_MQTT_URL=mqtt_url,
        AIOS_MQTT_TOPIC_PREFIX=topic_prefix,
        **env,
    )
    engine = create_engine(settings)
    await migrate.upgrade(engine)
    try:
        async with AsyncTestClient(create_app(settings, engine=engine, run_ingest=True)) as client:
            yield client
    finally:
        await engine.dispose()


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 15.0) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s (last value: {value!r})")
        await asyncio.sleep(0.1)


class Publisher:
    """A paho client publishing raw payloads with QoS 1 (waits for the broker's PUBACK)."""

    def __init__(self, host: str, port: int, *, mqtt5: bool) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id="test-pub-" + uuid.uuid4().hex[:8],
            protocol=paho.MQTTv5 if mqtt5 else paho.MQTTv311,
        )
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=10)
        assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mosquitto_publisher(mqtt_url: str) -> Iterator[Publisher]:
    parts = urlsplit(mqtt_url)
    pub = Publisher(parts.hostname or "127.0.0.1", parts.port or 1883, mqtt5=True)
    yield pub
    pub.close()


async def register_and_login(client: AsyncTestClient) -> str:  # type: ignore[type-arg]
    """Register an organization and its owner; the org id, with the client authenticated."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    reg = await client.post(
        "/api/v1/auth/register",
        json={
            "email": email,
            "password": "correct horse battery",
            "full_name": "Test Owner",
            "organization_name": "Test org",
        },
    )
    assert reg.status_code == 202, reg.text
    login = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": "correct horse battery"}
    )
    assert login.status_code == 200, login.text
    client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    me = await client.get("/api/v1/auth/me")
    return str(me.json()["organization"]["id"])
