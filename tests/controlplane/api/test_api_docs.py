"""``/docs`` (Swagger UI) and ``/redoc`` load everything they need from the control plane
itself: no page refers to another host, and every asset it names is served (air-gapped
sites). Run on the ASGI app, without a login (the docs are public)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from aios.controlplane.app import create_app
from tests.controlplane.conftest import make_settings

REFERENCE = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]?([^'"\s)>]+)""", re.IGNORECASE)


@pytest.fixture
async def client(tmp_path: Path, mqtt_url: str, topic_prefix: str) -> Any:
    settings = make_settings(
        tmp_path,
        AIOS_MQTT_URL=mqtt_url,
        AIOS_MQTT_TOPIC_PREFIX=topic_prefix,
        AIOS_INGEST_ENABLED="false",
        AIOS_JOBS_ENABLED="false",
    )
    async with AsyncTestClient(app=create_app(settings, run_ingest=False)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("page", "script"),
    [
        ("/docs", "swagger-ui-bundle.js"),
        ("/docs/swagger", "swagger-ui-bundle.js"),
        ("/redoc", "redoc.standalone.js"),
        ("/docs/redoc", "redoc.standalone.js"),
    ],
)
async def test_docs_pages_load_only_local_assets(client: Any, page: str, script: str) -> None:
    response = await client.get(page, follow_redirects=True)
    assert response.status_code == 200, response.text
    html = response.text
    assert script in html
    assert "http://" not in html
    assert "https://" not in html, re.findall(r"https://[^'\"\s]+", html)
    assets = [ref for ref in REFERENCE.findall(html) if ref.startswith("/docs/assets/")]
    assert any(a.endswith(script) for a in assets), assets
    for asset in assets:
        fetched = await client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 500, asset
    schema = await client.get("/docs/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/fleet" in schema.text
