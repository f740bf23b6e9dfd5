"""End-to-end fixtures: whether a test failed is kept on its item (:data:`FAILED`), so that a
fixture that owns processes can print their logs in its teardown when the test failed; the
control plane's environment for each of its setups (:func:`backend`)."""

from __future__ import annotations

import uuid
from collections.abc import Generator
from pathlib import Path

import pytest

from tests.e2e.processes import unused_port

FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path, mqtt_url: str) -> dict[str, str]:
    """The control plane's environment for the setup ``request.param`` names (parametrize it
    indirectly): ``postgres`` or ``sqlite`` through Mosquitto, or ``sqlite+embedded``, the
    demo's setup (anonymous, so that a test may configure an agent by hand)."""
    kind: str = request.param
    env = {
        "AIOS_DATA_DIR": str(tmp_path / "cp"),
        "AIOS_SECRET_KEY": "e2e-" + uuid.uuid4().hex,
        "AIOS_MQTT_CLIENT_ID": "e2e-ingest-" + uuid.uuid4().hex[:8],
        "AIOS_LOG_LEVEL": "INFO",
        "AIOS_REGISTRATION": "open",  # the PostgreSQL setup shares the session database
    }
    if kind == "postgres":
        env["AIOS_DATABASE_URL"] = request.getfixturevalue("pg_sqlalchemy_url")
    if kind == "sqlite+embedded":
        env["AIOS_MQTT_URL"] = "embedded"
        # not ``free_port``: that one is the HTTP port of the same process
        env["AIOS_EMBEDDED_MQTT_PORT"] = str(unused_port())
        # configured by hand (the documented escape hatch); test_ota_deploy enrolls one
        env["AIOS_EMBEDDED_MQTT_ANONYMOUS"] = "true"
    else:
        env["AIOS_MQTT_URL"] = mqtt_url
    return env
