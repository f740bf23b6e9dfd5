"""The HTTP API on both backends: health, detections filters, keyset pagination, error shape."""

from __future__ import annotations

import time
import uuid

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.mqtt.subscriber import Inbound
from aios.controlplane.telemetry.records import Accepted, classify
from aios.controlplane.telemetry.store import TelemetryStore
from aios.shared.topics import Channel, build_topic
from tests.controlplane.conftest import register_and_login
from tests.controlplane.messages import detection_batch

T0 = 1_700_000_000.0


async def _store(engine: AsyncEngine, org: str, device: str, seqs: range, stream: str) -> None:
    items = [
        Inbound(
            topic=build_topic(org, device, Channel.DETECTIONS),
            payload=detection_batch(device, s, objects=2, stream_id=stream, ts=T0 + s),
            qos=1,
            mid=s,
            received_at=time.time(),
        )
        for s in seqs
    ]
    accepted = [classify(i, prefix="aios", max_bytes=1 << 20) for i in items]
    assert all(isinstance(a, Accepted) for a in accepted)
    await TelemetryStore(engine, auto_register=True).write(accepted, [])  # type: ignore[arg-type]


async def test_health(client: AsyncTestClient) -> None:  # type: ignore[type-arg]
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert (await client.get("/api/v1/system/diagnostics")).status_code == 401
    await register_and_login(client)
    details = (await client.get("/api/v1/system/diagnostics")).json()
    assert details["database"] == "ok"
    assert details["mqtt"]["ingest"] == "disabled"
    assert (await client.get("/docs/openapi.json")).status_code == 200


async def test_detections_filters_and_pagination(
    client: AsyncTestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
) -> None:
    org, device = await register_and_login(client), "dev-" + uuid.uuid4().hex[:8]
    await _store(engine, org, device, range(5), "cam1")  # 10 objects, ts T0..T0+4
    await _store(engine, org, device, range(5, 7), "cam2")
    intruder = "dev-" + uuid.uuid4().hex[:8]  # another organization's device
    await _store(engine, "org-" + uuid.uuid4().hex[:8], intruder, range(3), "cam1")
    other = await client.get("/api/v1/dashboard/detections", params={"device_id": intruder})
    assert other.status_code == 200
    assert other.json()["items"] == []

    r = await client.get(
        "/api/v1/dashboard/detections", params={"device_id": device, "stream_id": "cam1"}
    )
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 10
    assert r.json()["next_cursor"] is None
    first = items[0]
    assert first["device_id"] == device
    assert first["stream_id"] == "cam1"
    assert first["seq"] == 4  # newest first
    assert first["xyxy"][:2] == pytest.approx([0.1, 0.2])
    assert first["xyxy"][3] == 0.4
    assert first["label"] in {"person", "car"}
    assert 0 <= first["confidence"] <= 1

    persons = await client.get(
        "/api/v1/dashboard/detections", params={"device_id": device, "label": "person"}
    )
    assert {i["class_id"] for i in persons.json()["items"]} == {0}
    assert len(persons.json()["items"]) == 7

    window = await client.get(
        "/api/v1/dashboard/detections",
        params={"device_id": device, "since": str(T0 + 1), "until": "2023-11-14T22:13:24Z"},
    )  # T0 + 4 == 2023-11-14T22:13:24Z, exclusive
    assert sorted({i["seq"] for i in window.json()["items"]}) == [1, 2, 3]

    seen: list[tuple[int, str]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"device_id": device, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/dashboard/detections", params=params)).json()
        seen.extend((i["seq"], i["stream_id"]) for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 14
    assert len(set(zip(seen, range(14), strict=True))) == 14
    assert [s for s, _ in seen] == sorted((s for s, _ in seen), reverse=True)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "!!!"}, "cursor"),
        ({"class_id": "x"}, "class_id"),
    ],
)
async def test_bad_parameters_answer_json_with_field(
    client: AsyncTestClient,  # type: ignore[type-arg]
    params: dict[str, str | int],
    field: str,
) -> None:
    await register_and_login(client)
    r = await client.get("/api/v1/dashboard/detections", params=params)
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400
    assert body["field"] == field
    assert body["message"]
