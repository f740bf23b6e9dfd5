"""Pipelines: validated CRUD, immutable versions and diff, validate, deploy through Mosquitto,
and device reports moving deployment targets."""

from __future__ import annotations

import asyncio
import copy
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aios.controlplane.db.models import LiveMessageRecord
from aios.controlplane.pipelines.deployments import record_report
from aios.controlplane.settings import Settings
from aios.shared.codec import decode_message
from aios.shared.messages import PipelineConfig, PipelineReport
from aios.shared.topics import Channel, build_topic
from tests.controlplane.api.conftest import Account, add_member
from tests.controlplane.api.test_fleet import create_device

SPEC: dict[str, Any] = {
    "name": "people",
    "nodes": [
        {"id": "cam", "type": "source", "params": {"kind": "file", "uri": "/data/a.mp4"}},
        {"id": "detect", "type": "detect", "params": {"conf": 0.3}},
        {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
    ],
    "edges": [{"source": "cam", "target": "detect"}, {"source": "detect", "target": "out"}],
}


def with_conf(conf: float) -> dict[str, Any]:
    spec = copy.deepcopy(SPEC)
    spec["nodes"][1]["params"]["conf"] = conf
    return spec


async def create_pipeline(
    client: AsyncTestClient[Any], who: Account, spec: dict[str, Any] = SPEC
) -> str:
    r = await client.post(
        "/api/v1/pipelines", headers=who.headers, json={"name": "People", "spec": spec}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_create_validates_with_the_shared_contract(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    bad = with_conf(1.5)
    r = await client.post(
        "/api/v1/pipelines", headers=owner.headers, json={"name": "x", "spec": bad}
    )
    assert r.status_code == 422
    assert r.json()["node"] == "detect"
    assert r.json()["field"] == "params.conf"

    cyclic = copy.deepcopy(SPEC)
    cyclic["edges"].append({"source": "out", "target": "cam"})
    r = await client.post(
        "/api/v1/pipelines", headers=owner.headers, json={"name": "x", "spec": cyclic}
    )
    assert r.status_code == 422

    pipeline_id = await create_pipeline(client, owner)
    got = (await client.get(f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers)).json()
    assert got["current_version"] == 1
    assert got["spec"]["nodes"][1]["params"]["iou"] == 0.7  # canonical: defaults filled in


async def test_every_spec_change_is_a_new_immutable_version(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    pipeline_id = await create_pipeline(client, owner)
    renamed = await client.patch(
        f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers, json={"name": "P2"}
    )
    assert renamed.json()["current_version"] == 1
    changed = await client.patch(
        f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers, json={"spec": with_conf(0.5)}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["current_version"] == 2
    same = await client.patch(
        f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers, json={"spec": with_conf(0.5)}
    )
    assert same.json()["current_version"] == 2
    rejected = await client.patch(
        f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers, json={"spec": with_conf(7)}
    )
    assert rejected.status_code == 422
    assert (await client.get(f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers)).json()[
        "current_version"
    ] == 2

    versions = (
        await client.get(f"/api/v1/pipelines/{pipeline_id}/versions", headers=owner.headers)
    ).json()
    assert [v["version"] for v in versions] == [2, 1]
    v1 = (
        await client.get(f"/api/v1/pipelines/{pipeline_id}/versions/1", headers=owner.headers)
    ).json()
    assert v1["spec"]["nodes"][1]["params"]["conf"] == 0.3

    diff = (
        await client.get(
            f"/api/v1/pipelines/{pipeline_id}/diff",
            headers=owner.headers,
            params={"from": 1, "to": 2},
        )
    ).json()
    assert diff["changes"] == [
        {"path": "nodes[detect].params.conf", "op": "changed", "before": 0.3, "after": 0.5}
    ]
    missing = await client.get(f"/api/v1/pipelines/{pipeline_id}/versions/9", headers=owner.headers)
    assert missing.status_code == 404


async def test_validate_endpoint(client: AsyncTestClient[Any], owner: Account) -> None:
    pipeline_id = await create_pipeline(client, owner)
    ok = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/validate", headers=owner.headers, json={}
    )
    assert ok.json() == {"valid": True}
    bad_spec = copy.deepcopy(SPEC)
    bad_spec["nodes"][2]["params"]["kind"] = "carrier_pigeon"
    bad = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/validate", headers=owner.headers, json={"spec": bad_spec}
    )
    assert bad.status_code == 200
    assert bad.json()["valid"] is False
    assert bad.json()["node"] == "out"
    assert bad.json()["field"] == "params.kind"


async def test_viewer_reads_but_cannot_write_or_deploy(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    pipeline_id = await create_pipeline(client, owner)
    viewer = await add_member(client, owner, "viewer")
    assert (
        await client.get(f"/api/v1/pipelines/{pipeline_id}", headers=viewer.headers)
    ).status_code == 200
    r = await client.post(
        "/api/v1/pipelines", headers=viewer.headers, json={"name": "x", "spec": SPEC}
    )
    assert r.status_code == 403
    r = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/execute", headers=viewer.headers, json={"tags": ["a"]}
    )
    assert r.status_code == 403


async def _retained_config(mqtt_url: str, topic: str) -> PipelineConfig:
    parts = urlsplit(mqtt_url)
    async with aiomqtt.Client(parts.hostname or "127.0.0.1", parts.port or 1883) as sub:
        await sub.subscribe(topic, qos=1)
        async with asyncio.timeout(10):
            async for message in sub.messages:
                assert message.retain
                decoded = decode_message(bytes(message.payload), channel=Channel.CONFIG_DESIRED)
                assert isinstance(decoded, PipelineConfig), decoded
                return decoded
    raise AssertionError("no retained config")


@pytest.mark.mqtt
async def test_execute_publishes_retained_config_and_tracks_reports(
    client: AsyncTestClient[Any],
    owner: Account,
    api_settings: Settings,
    mqtt_url: str,
    engine: AsyncEngine,
) -> None:
    pipeline_id = await create_pipeline(client, owner)
    await client.patch(
        f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers, json={"spec": with_conf(0.5)}
    )
    paris_1 = await create_device(client, owner, "p1", ["site:paris"])
    paris_2 = await create_device(client, owner, "p2", ["site:paris"])
    lyon = await create_device(client, owner, "l1", ["site:lyon"])

    operator = await add_member(client, owner, "operator")
    r = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/execute",
        headers=operator.headers,
        json={"version": 1, "tags": ["site:paris"], "device_ids": [paris_1]},
    )
    assert r.status_code == 201, r.text
    deployment = r.json()
    assert deployment["version"] == 1
    assert {t["device_id"] for t in deployment["targets"]} == {paris_1, paris_2}
    assert deployment["counts"] == {"pending": 2}

    topic = build_topic(
        owner.org_id, paris_2, Channel.CONFIG_DESIRED, prefix=api_settings.mqtt_topic_prefix
    )
    config = await _retained_config(mqtt_url, topic)
    assert config.pipeline_id == pipeline_id
    assert config.version == 1
    assert config.deployment_id == deployment["id"]
    assert config.spec.nodes[1].params.conf == 0.3  # type: ignore[union-attr]
    lyon_topic = build_topic(
        owner.org_id, lyon, Channel.CONFIG_DESIRED, prefix=api_settings.mqtt_topic_prefix
    )
    parts = urlsplit(mqtt_url)
    async with aiomqtt.Client(parts.hostname or "127.0.0.1", parts.port or 1883) as sub:
        await sub.subscribe(lyon_topic, qos=1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await anext(sub.messages)

    # Reports, as the ingest hands them over: applied for one, rejected for the other.
    def report(device: str, status: str, **extra: Any) -> PipelineReport:
        return PipelineReport(
            device_id=device, pipeline_id=pipeline_id, version=1, status=status,  # type: ignore[arg-type]
            ts=0.0, deployment_id=deployment["id"], **extra,
        )  # fmt: skip

    async with AsyncSession(engine) as session:
        assert await record_report(session, report(paris_1, "applied"), owner.org_id)
        # A report claiming another organization changes nothing.
        assert not await record_report(session, report(paris_1, "failed"), "someone-else")
        await session.commit()
    async with engine.begin() as conn:  # the ingest calls it on its own connection
        rejected_report = report(
            paris_2, "rejected", error="bad uri", node="cam", field="params.uri"
        )
        assert await record_report(conn, rejected_report, owner.org_id)
        live = (
            (
                await conn.execute(
                    select(LiveMessageRecord.message).where(
                        LiveMessageRecord.org_id == owner.org_id
                    )
                )
            )
            .scalars()
            .all()
        )
    updates = [m for m in live if m["type"] == "pipeline_status_update"]
    assert {(m["device_id"], m["status"]) for m in updates} == {
        (paris_1, "applied"),
        (paris_2, "rejected"),
    }

    got = await client.get(
        f"/api/v1/pipelines/{pipeline_id}/deployments/{deployment['id']}", headers=owner.headers
    )
    body = got.json()
    assert body["counts"] == {"applied": 1, "rejected": 1}
    rejected = next(t for t in body["targets"] if t["device_id"] == paris_2)
    assert (rejected["error"], rejected["node"], rejected["field"]) == (
        "bad uri",
        "cam",
        "params.uri",
    )
    listing = (
        await client.get(f"/api/v1/pipelines/{pipeline_id}/deployments", headers=owner.headers)
    ).json()
    assert [d["id"] for d in listing] == [deployment["id"]]


async def test_execute_needs_a_selection(client: AsyncTestClient[Any], owner: Account) -> None:
    pipeline_id = await create_pipeline(client, owner)
    r = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/execute", headers=owner.headers, json={}
    )
    assert r.status_code == 400
    assert r.json()["field"] == "device_ids"
    r = await client.post(
        f"/api/v1/pipelines/{pipeline_id}/execute", headers=owner.headers, json={"tags": ["none"]}
    )
    assert r.status_code == 400


async def test_pipeline_delete(client: AsyncTestClient[Any], owner: Account) -> None:
    pipeline_id = await create_pipeline(client, owner)
    assert (
        await client.delete(f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/pipelines/{pipeline_id}", headers=owner.headers)
    ).status_code == 404
    assert (
        msgspec.json.decode((await client.get("/api/v1/pipelines", headers=owner.headers)).content)[
            "total"
        ]
        == 0
    )
