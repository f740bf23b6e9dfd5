"""The agent's opt-in Prometheus endpoint, scraped for real over HTTP while a real detector
runs two cameras; and each stream's latency in the heartbeat.

The agent's transport is the real MQTT one with its spool, pointed at a port where no broker
listens: what the sinks send waits in the spool, which the scrape shows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from aios.agent.config import build_config, parse_listen
from aios.agent.errors import ConfigError
from aios.agent.runtime import Agent, RunOptions, make_transport
from aios.agent.telemetry.heartbeat import HeartbeatBuilder
from aios.agent.telemetry.metrics_endpoint import METRIC_NAMES
from aios.agent.transport.memory import MemoryTransport
from tests.agent.test_multi_stream import still_cameras, until
from tests.prometheus_text import Scrape

STREAMS = ("front", "back")


def two_camera_pipeline() -> dict[str, object]:
    return {
        "name": "two",
        "nodes": [
            {"id": "front", "type": "source", "params": {"kind": "file", "uri": "bus.jpg"}},
            {"id": "back", "type": "source", "params": {"kind": "file", "uri": "zidane.jpg"}},
            {"id": "det", "type": "detect", "params": {"provider": "cpu"}},
            {"id": "dets", "type": "sink", "params": {"kind": "mqtt_detections"}},
        ],
        "edges": [
            {"source": "front", "target": "det"},
            {"source": "back", "target": "det"},
            {"source": "det", "target": "dets"},
        ],
    }


def _config(tmp_path: Path, model_path: Path, **extra: object) -> dict[str, object]:
    return {
        "device": {"org_id": "acme", "device_id": "edge-1"},
        "mqtt": {"url": "mqtt://127.0.0.1:1"},  # nobody listens: the spool keeps everything
        "state_dir": str(tmp_path / "state"),
        "model_path": str(model_path),
        "apply": {"enabled": False},
        "heartbeat_interval_s": 3600,
        "pipeline": two_camera_pipeline(),
        **extra,
    }


async def _scrape(url: str) -> Scrape:
    async with httpx.AsyncClient() as client:
        r = await client.get(url, timeout=5)
    assert r.status_code == 200, r.text
    return Scrape(r.text)


@pytest.mark.slow
async def test_scraped_numbers_move_with_the_pipeline(
    tmp_path: Path, model_path: Path, testdata_dir: Path
) -> None:
    config = build_config(_config(tmp_path, model_path, metrics_listen="127.0.0.1:0"), environ={})
    agent = Agent(
        config,
        transport=make_transport(config),
        cameras=still_cameras(testdata_dir / "images", fps=20.0),
        options=RunOptions(install_signal_handlers=False),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(
            lambda: agent.metrics_address is not None and agent.supervisor.current is not None
        )
        assert agent.metrics_address is not None
        url = f"http://127.0.0.1:{agent.metrics_address[1]}/metrics"
        first = await _scrape(url)
        assert first.value("aios_agent_mqtt_connected") == 0

        async def enough() -> Scrape:
            while True:
                s = await _scrape(url)
                if (
                    all(
                        (s.value("aios_agent_inference_seconds_count", stream=cam) or 0) >= 5
                        for cam in STREAMS
                    )
                    and (s.value("aios_agent_spool_depth") or 0) >= 5
                ):
                    return s
                await asyncio.sleep(0.2)

        s = await asyncio.wait_for(enough(), 90)
        runner = agent.supervisor.current
        assert runner is not None
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

    frames = s.value("aios_agent_frames_processed_total") or 0
    per_stream = sum(s.value("aios_agent_inference_seconds_count", stream=c) or 0 for c in STREAMS)
    assert frames >= 10
    assert abs(per_stream - frames) <= 2  # scraped a moment apart, same frames
    for cam in STREAMS:
        assert (s.value("aios_agent_stream_fps", stream=cam) or 0) > 1
        assert s.value("aios_agent_stream_state", stream=cam, state="streaming") == 1
        assert s.value("aios_agent_stream_state", stream=cam, state="failed") == 0
        assert s.value("aios_agent_stream_dropped_frames_total", stream=cam) is not None
        # a detection waits at least as long as its own inference
        latency = s.value("aios_agent_detect_latency_seconds_sum", stream=cam) or 0
        inference = s.value("aios_agent_inference_seconds_sum", stream=cam) or 0
        assert latency >= inference > 0
    # broker unreachable: batches wait in the spool, nothing dropped yet
    assert (s.value("aios_agent_spool_depth") or 0) >= 5
    assert (s.value("aios_agent_spool_bytes") or 0) > 0
    assert s.value("aios_agent_spool_dropped_total", kind="detections") == 0
    assert s.value("aios_agent_mqtt_connected") == 0
    assert s.families <= METRIC_NAMES


async def test_heartbeat_carries_each_streams_latency_over_its_interval(
    tmp_path: Path, model_path: Path, testdata_dir: Path
) -> None:
    config = build_config(_config(tmp_path, model_path), environ={})
    transport = MemoryTransport()
    agent = Agent(
        config,
        transport=transport,
        cameras=still_cameras(testdata_dir / "images", fps=20.0),
        options=RunOptions(install_signal_handlers=False),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(lambda: agent.supervisor.current is not None)
        builder = HeartbeatBuilder("edge-1", transport, agent.supervisor.describe)
        _, _, metrics = agent.supervisor.describe()
        assert metrics is not None
        await until(lambda: all(len(metrics.stream_latency.get(c, ())) >= 3 for c in STREAMS))
        beat = builder.build()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    by_stream = {s.stream_id: s for s in beat.streams}
    assert set(by_stream) == set(STREAMS)
    for s in by_stream.values():
        assert s.latency_ms_p50 is not None
        assert s.latency_ms_p95 is not None
        assert 0 < s.latency_ms_p50 <= s.latency_ms_p95
    assert beat.gpu_percent is None  # no NVML, no tegrastats on this machine: absent, not 0
    # each heartbeat covers its own interval: once stopped, the second one finds nothing new
    after = HeartbeatBuilder("edge-1", transport, lambda: ("two", 1, metrics))
    after.build()  # what was detected between the first heartbeat and the stop
    again = after.build()
    assert {s.stream_id for s in again.streams} == set(STREAMS)
    assert all(s.latency_ms_p50 is None and s.latency_ms_p95 is None for s in again.streams)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("0.0.0.0:9100", ("0.0.0.0", 9100)),
        ("[::1]:9464", ("::1", 9464)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_listen_address(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["9464", ":9464", "host:70000", "host:port", "host:-1"])
def test_bad_listen_address_names_the_setting(value: str) -> None:
    with pytest.raises(ConfigError, match="metrics_listen"):
        parse_listen(value)


def test_metrics_listen_from_the_environment(tmp_path: Path, model_path: Path) -> None:
    config = build_config(
        _config(tmp_path, model_path), environ={"AIOS_AGENT_METRICS_LISTEN": "127.0.0.1:9464"}
    )
    assert config.metrics_listen == ("127.0.0.1", 9464)
    assert build_config(_config(tmp_path, model_path), environ={}).metrics_listen is None
    with pytest.raises(ConfigError, match="field 'metrics_listen'"):
        build_config(_config(tmp_path, model_path, metrics_listen="nowhere:99999"), environ={})
