"""The console as ``aios serve`` hands it out, and the endpoint it added.

Served: ``/`` redirects to ``/console/``, every file is public; every ES module import resolves
to a file the server serves (a broken module graph would be a blank page); nothing refers to
another host (an air-gapped site must work). ``GET /api/v1/fleet/{id}/heartbeat`` gives the
latest heartbeat of the caller's device, ``null`` before the first, 404 for another
organization's device.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.console.routes import STATIC_DIR
from aios.controlplane.db.models import Device
from aios.shared.messages import Heartbeat, StreamHealth
from tests.controlplane.api.conftest import Account

IMPORT = re.compile(r"""^\s*import\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["']""", re.M)
EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/""", re.I)


def _static_files() -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())


async def test_the_console_is_served_without_a_token(client: AsyncTestClient[Any]) -> None:
    root = await client.get("/", follow_redirects=False)
    assert root.status_code in (301, 302, 307, 308)
    assert root.headers["location"] == "/console/"
    index = await client.get("/console/")
    assert index.status_code == 200
    assert 'type="module" src="js/app.js"' in index.text
    for path in _static_files():
        url = "/console/" + path.relative_to(STATIC_DIR).as_posix()
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "no-cache"


async def test_every_module_import_resolves_and_nothing_is_fetched_from_elsewhere(
    client: AsyncTestClient[Any],
) -> None:
    modules = [p for p in _static_files() if p.suffix == ".js"]
    assert len(modules) >= 10
    for module in modules:
        text = module.read_text()
        for spec in IMPORT.findall(text):
            assert spec.startswith(("./", "../")), (module, spec)
            target = (module.parent / spec).resolve()
            url = "/console/" + target.relative_to(STATIC_DIR.resolve()).as_posix()
            assert (await client.get(url)).status_code == 200, (module.name, spec)
    for path in _static_files():
        text = path.read_text()
        # allowed: the SVG namespace (an identifier, never fetched) and example.com placeholders
        found = [
            u for u in EXTERNAL.findall(text) if "www.w3.org" not in u and "example.com" not in u
        ]
        assert found == [], (path.name, found)


async def test_latest_heartbeat_of_a_device(
    client: AsyncTestClient[Any], owner: Account, other_owner: Account, engine: AsyncEngine
) -> None:
    created = await client.post("/api/v1/fleet", headers=owner.headers, json={"name": "gw"})
    assert created.status_code == 201, created.text
    device_id = created.json()["id"]
    url = f"/api/v1/fleet/{device_id}/heartbeat"
    before = await client.get(url, headers=owner.headers)
    assert before.status_code == 200
    assert before.json() == {"device_id": device_id, "heartbeat": None}

    beat = Heartbeat(
        device_id=device_id,
        ts=1_700_000_000.0,
        uptime_s=12.0,
        agent_version="0.1.0",
        pipeline_version=3,
        cpu_percent=41.5,
        inference_ms_p95=22.0,
        spool_depth=7,
        streams=[StreamHealth(stream_id="door", state="streaming", fps=9.5)],
    )
    async with engine.begin() as conn:
        await conn.execute(
            update(Device)
            .where(Device.id == device_id)
            .values(last_heartbeat=msgspec.to_builtins(beat))
        )
    after = (await client.get(url, headers=owner.headers)).json()["heartbeat"]
    assert (after["cpu_percent"], after["spool_depth"], after["pipeline_version"]) == (41.5, 7, 3)
    assert after["streams"] == [
        {
            "stream_id": "door",
            "state": "streaming",
            "fps": 9.5,
            "frames_dropped": 0,
            "error": None,
            "reconnects": 0,
            "down_since": None,
            "last_gap_s": None,
            "latency_ms_p50": None,
            "latency_ms_p95": None,
        }
    ]
    assert (await client.get(url, headers=other_owner.headers)).status_code == 404
    assert (await client.get(url)).status_code == 401
