"""Capture threads: latest-frame semantics, reconnect with backoff, reported state."""

from __future__ import annotations

import asyncio
import time

from aios.agent.sources.camera import StreamState
from aios.agent.sources.capture import CaptureWorker
from aios.agent.sources.synthetic import SyntheticCamera
from aios.shared.backoff import Backoff


async def test_a_slow_consumer_gets_the_newest_frame_and_drops_are_counted() -> None:
    worker = CaptureWorker("cam", SyntheticCamera(fps=100))
    worker.start()
    try:
        await worker.wait_open(5)
        first = await worker.next_frame()
        await asyncio.sleep(0.3)  # a slow detector: ~30 frames arrive meanwhile
        second = await worker.next_frame()
        assert first is not None
        assert second is not None
        assert second.index - first.index >= 10, "no backlog: the newest frame comes next"
        assert worker.status().dropped >= 10
        assert worker.status().state == StreamState.STREAMING
    finally:
        await worker.stop()
    assert worker.status().state == StreamState.STOPPED


async def test_a_camera_that_comes_back_streams_again_within_10_s() -> None:
    camera = SyntheticCamera(fps=50)
    states: list[StreamState] = []
    worker = CaptureWorker(
        "cam",
        camera,
        backoff=Backoff(initial=0.2, cap=5.0),
        on_state=lambda s: states.append(s.state),
    )
    worker.start()
    try:
        await worker.wait_open(5)
        camera.available.clear()  # the camera goes away ...
        await asyncio.sleep(3.0)  # ... long enough for the backoff to grow
        assert worker.status().state == StreamState.FAILED
        assert worker.status().error
        camera.available.set()
        back = time.monotonic()
        while worker.status().state != StreamState.STREAMING:
            assert time.monotonic() - back < 10, "not streaming 10 s after the camera returned"
            await asyncio.sleep(0.05)
        assert await worker.next_frame() is not None
    finally:
        await worker.stop()
    assert StreamState.FAILED in states
    assert states[-1] == StreamState.STOPPED


async def test_an_outage_is_reported_with_its_start_and_its_length() -> None:
    camera = SyntheticCamera(fps=50)
    worker = CaptureWorker("cam", camera, backoff=Backoff(initial=0.1, cap=0.5))
    worker.start()
    try:
        await worker.wait_open(5)
        assert (worker.status().reconnects, worker.status().down_since) == (0, None)
        camera.available.clear()
        lost = time.time()
        while worker.status().state != StreamState.FAILED:
            assert time.time() - lost < 10, "the outage was not noticed"
            await asyncio.sleep(0.02)
        down = worker.status()
        assert down.down_since is not None
        assert lost - 0.5 <= down.down_since <= lost + 0.1  # the last frame's time
        assert down.last_gap_s is None
        await asyncio.sleep(1.0)
        camera.available.set()
        while worker.status().state != StreamState.STREAMING:
            assert time.time() - lost < 15, "not back after the camera returned"
            await asyncio.sleep(0.02)
        back = worker.status()
        assert back.reconnects == 1
        assert back.down_since is None
        assert back.last_gap_s is not None
        assert 1.0 <= back.last_gap_s <= time.time() - lost + 0.5
    finally:
        await worker.stop()
