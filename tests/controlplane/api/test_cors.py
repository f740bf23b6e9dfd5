"""CORS: a dashboard served from an allowed origin may call the API; any other origin gets no
CORS grant, and without ``AIOS_CORS_ALLOWED_ORIGINS`` no origin does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from aios.controlplane.app import create_app
from aios.controlplane.errors import SettingsError
from tests.controlplane.conftest import make_settings

ALLOWED = "https://dash.example.com:3000"


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }


@pytest.fixture(params=[f"{ALLOWED}, http://localhost:5173", ""], ids=["configured", "unset"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    settings = make_settings(
        tmp_path,
        AIOS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'aios.db'}",
        AIOS_INGEST_ENABLED="false",
        AIOS_JOBS_ENABLED="false",
        AIOS_CORS_ALLOWED_ORIGINS=request.param,
    )
    async with AsyncTestClient(app=create_app(settings, run_ingest=False)) as test_client:
        yield test_client, bool(request.param)


async def test_preflight_from_an_allowed_and_a_refused_origin(client: Any) -> None:
    http, configured = client
    allowed = await http.options("/api/v1/fleet", headers=preflight(ALLOWED))
    refused = await http.options("/api/v1/fleet", headers=preflight("https://evil.example"))
    assert refused.headers.get("access-control-allow-origin") is None
    if not configured:
        assert allowed.headers.get("access-control-allow-origin") is None
        return
    assert allowed.status_code in (200, 204), allowed.text
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "GET" in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in allowed.headers
    assert refused.status_code >= 400
    # The actual request from the allowed origin carries the grant (here a 401: no token).
    simple = await http.get("/api/v1/fleet", headers={"Origin": ALLOWED})
    assert simple.headers["access-control-allow-origin"] == ALLOWED
    other = await http.get("/api/v1/fleet", headers={"Origin": "https://evil.example"})
    assert other.headers.get("access-control-allow-origin") is None


@pytest.mark.parametrize("value", ["*", "dash.example.com", "https://dash.example.com/app"])
def test_origins_must_be_origins(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError, match="AIOS_CORS_ALLOWED_ORIGINS"):
        make_settings(tmp_path, AIOS_CORS_ALLOWED_ORIGINS=value)
