"""Fixtures shared by the whole suite.

Real services, never mocks: PostgreSQL (``AIOS_TEST_PG_URL``, default the local server) gets a
fresh database per test session; Mosquitto (``AIOS_TEST_MQTT_URL``) gets a unique topic prefix
per test. Weights and images come from ``AIOS_TEST_MODELS`` / ``AIOS_TEST_DATA`` (defaults:
the ``shared/`` folder beside the repository), never copied into the repository.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import structlog

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def _dir_setting(env: str, default: Path) -> Path:
    return Path(os.environ.get(env, str(default))).resolve()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    path = _dir_setting("AIOS_TEST_MODELS", SHARED / "models")
    if not (path / "yolov8n-coco.onnx").is_file():
        pytest.fail(f"test weights not found in {path}: set AIOS_TEST_MODELS")
    return path


@pytest.fixture(scope="session")
def model_path(models_dir: Path) -> Path:
    return models_dir / "yolov8n-coco.onnx"


@pytest.fixture(scope="session")
def int8_model_path(models_dir: Path) -> Path:
    return models_dir / "yolov8n-coco-int8.onnx"


@pytest.fixture(scope="session")
def testdata_dir() -> Path:
    path = _dir_setting("AIOS_TEST_DATA", SHARED / "testdata")
    if not (path / "images").is_dir():
        pytest.fail(f"test images not found in {path}: set AIOS_TEST_DATA")
    return path


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _service_url(variable: str, default: str, port: int, name: str) -> str:
    """The URL of a service the tests run against (``variable`` overrides ``default``); the
    test fails, not skips, when nothing answers there."""
    url = os.environ.get(variable, default)
    if not _reachable(url, port):
        pytest.fail(f"{name} is not reachable at {url} (make test starts it)")
    return url


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """asyncpg-style URL of the PostgreSQL server (the ``postgres`` maintenance database)."""
    default = "postgresql://postgres@127.0.0.1:5432/postgres"
    return _service_url("AIOS_TEST_PG_URL", default, 5432, "PostgreSQL")


@pytest.fixture(scope="session")
def pg_database(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for this test session; its asyncpg-style URL. Dropped after."""
    import asyncio

    import asyncpg

    name = f"aios_test_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(pg_admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = pg_admin_url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_sqlalchemy_url(pg_database: str) -> str:
    """The session database as a SQLAlchemy async URL."""
    return pg_database.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    return _service_url("AIOS_TEST_MQTT_URL", "mqtt://127.0.0.1:1883", 1883, "Mosquitto")


_USED_PREFIXES: list[str] = []


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic prefix so that concurrent runs never see each other's messages."""
    prefix = f"aiostest/{uuid.uuid4().hex[:10]}"
    _USED_PREFIXES.append(prefix)
    return prefix


@pytest.fixture(scope="session", autouse=True)
def _clear_retained_messages() -> Iterator[None]:
    """After the run, clear the retained messages (status, cfg/desired) that tests left under
    their prefixes on the shared broker, so the broker does not accumulate them run after run."""
    yield
    url = os.environ.get("AIOS_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    if not _USED_PREFIXES or not _reachable(url, 1883):
        return
    import time

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parts = urlsplit(url)
    retained: set[str] = set()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cleanup-{uuid.uuid4().hex}")
    client.on_message = lambda _c, _u, msg: retained.add(msg.topic) if msg.retain else None
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    try:
        for prefix in _USED_PREFIXES:
            client.subscribe(f"{prefix}/#", qos=0)
        time.sleep(1.0)  # retained messages arrive right after the subscription
        for topic in sorted(retained):
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """A stream for a test to configure the process's logging onto (``log_setup``); the root
    logger, the levels of named loggers and structlog's configuration are restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    stream = io.StringIO()
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)
        structlog.reset_defaults()
