"""RTSP cameras against a real server (GStreamer's gst-rtsp-server), never a fake.

The server re-encodes a sample video made from the shared test images, as H.264 and as Motion
JPEG over RTP; the agent reads it through its own ``rtsp`` source (OpenCV's FFmpeg backend).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import msgspec
import numpy as np
import pytest

from aios.agent.errors import SourceError
from aios.agent.runtime import Agent, RunOptions
from aios.agent.sources.rtsp import RtspCamera
from aios.agent.transport.memory import MemoryTransport
from aios.shared.messages import Heartbeat, StreamHealth
from tests.agent.configs import agent_config
from tests.agent.rtsp_server import RtspServer, SilentServer, require_gstreamer
from tests.agent.videos import make_sample_video

pytestmark = pytest.mark.slow

USER = "viewer"
PASSWORD = "s3cr3t-Pa55w0rd"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, testdata_dir: Path) -> Path:
    require_gstreamer()
    out = tmp_path_factory.mktemp("rtsp") / "clip.mp4"
    return make_sample_video(testdata_dir / "images", out, seconds=90, fps=10)


@pytest.fixture(scope="module")
def server(clip: Path) -> Iterator[RtspServer]:
    srv = RtspServer(clip, clip.parent)
    srv.start()
    yield srv
    srv.stop()


def first_frames(clip: Path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(clip))
    frames = []
    for _ in range(count):
        ok, image = cap.read()
        assert ok
        frames.append(image)
    cap.release()
    return frames


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("mount", ["h264", "mjpeg"])
def test_the_rtsp_source_reads_the_served_video(
    server: RtspServer, clip: Path, mount: str, transport: str
) -> None:
    camera = RtspCamera(server.url(mount), transport=transport)  # type: ignore[arg-type]
    camera.open()
    try:
        frames = [camera.read() for _ in range(15)]
    finally:
        camera.close()
    assert all(f is not None and f.shape == (480, 640, 3) for f in frames)
    # Each client gets the clip from its start: the first frame is one of the clip's first
    # frames, through a lossy codec (a few grey levels off on average), not noise or black.
    first = frames[0]
    assert first is not None
    originals = first_frames(clip, 10)
    error = min(float(np.abs(first.astype(np.int16) - o).mean()) for o in originals)
    assert error < 8.0, f"{mount}/{transport}: mean abs error {error:.1f} against the clip"


@pytest.mark.parametrize(
    ("mount", "transport", "opens"),
    [
        ("h264-tcp", "tcp", True),
        ("h264-tcp", "udp", False),
        ("h264-udp", "udp", True),
        ("h264-udp", "tcp", False),
    ],
)
def test_the_configured_transport_is_the_one_used(
    server: RtspServer, mount: str, transport: str, opens: bool
) -> None:
    """The server offers each mount over one lower transport only and refuses the other."""
    camera = RtspCamera(server.url(mount), transport=transport)  # type: ignore[arg-type]
    try:
        if opens:
            camera.open()
            assert camera.read() is not None
        else:
            with pytest.raises(SourceError, match=transport.upper()):
                camera.open()
    finally:
        camera.close()


def test_a_camera_that_never_answers_does_not_hold_up_another_ones_open(
    server: RtspServer,
) -> None:
    """OpenCV serialises FFmpeg opens behind one lock unless told FFmpeg is thread-safe."""
    silent = SilentServer()
    dead = RtspCamera(silent.url(), timeout_s=8.0)
    failures: list[SourceError] = []

    def open_dead() -> None:
        try:
            dead.open()
        except SourceError as exc:
            failures.append(exc)

    attempt = threading.Thread(target=open_dead)
    try:
        attempt.start()
        time.sleep(0.5)  # the dead camera's open is under way
        live = RtspCamera(server.url("h264"))
        started = time.monotonic()
        live.open()
        took = time.monotonic() - started
        live.close()
        assert took < 6.0, f"the live camera waited {took:.1f} s for the dead one"
    finally:
        attempt.join(15)
        silent.close()
    assert failures, "the camera that never answers did not fail its open"


# -- the whole agent ---------------------------------------------------------------------------


def make_agent(tmp_path: Path, model_path: Path, sources: dict[str, dict[str, str]]) -> Agent:
    nodes: list[dict[str, object]] = [
        {"id": "det", "type": "detect", "params": {"provider": "cpu", "target_fps": 2}},
        {"id": "dets", "type": "sink", "params": {"kind": "mqtt_detections"}},
    ]
    edges = [{"source": "det", "target": "dets"}]
    for name, params in sources.items():
        nodes.append({"id": name, "type": "source", "params": {"kind": "rtsp", **params}})
        edges.append({"source": name, "target": "det"})
    config = agent_config(
        tmp_path,
        model_path,
        {"name": "rtsp", "nodes": nodes, "edges": edges},
        {"apply": {"enabled": False, "start_timeout_s": 20}, "heartbeat_interval_s": 0.25},
    )
    return Agent(
        config,
        transport=MemoryTransport(),
        options=RunOptions(install_signal_handlers=False),
    )


def stream_in_last_heartbeat(transport: MemoryTransport, stream_id: str) -> StreamHealth | None:
    beats = transport.heartbeats()
    if not beats:
        return None
    return next((s for s in beats[-1].streams if s.stream_id == stream_id), None)


async def until(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Wait for ``condition``; the seconds it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def state_is(transport: MemoryTransport, stream_id: str, state: str) -> Callable[[], bool]:
    def check() -> bool:
        health = stream_in_last_heartbeat(transport, stream_id)
        return health is not None and health.state == state

    return check


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_the_agent_is_back_within_10_s_of_the_server_and_reports_the_gap(
    tmp_path: Path, model_path: Path, clip: Path, transport: str
) -> None:
    server = RtspServer(clip, tmp_path)
    server.start()
    agent = make_agent(
        tmp_path, model_path, {"cam": {"uri": server.url("h264"), "transport": transport}}
    )
    memory = agent.transport
    assert isinstance(memory, MemoryTransport)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(state_is(memory, "cam", "streaming"), 30, "the first frames")
        await until(lambda: memory.batches(), 30, "detections")
        server.kill()
        killed = time.time()
        await until(state_is(memory, "cam", "failed"), 15, "the outage to show")
        down = stream_in_last_heartbeat(memory, "cam")
        assert down is not None
        assert down.down_since is not None
        # the time of its last frame (a UDP client may still drain a buffered frame or two)
        assert killed - 2.0 < down.down_since <= killed + 1.5
        assert down.reconnects == 0
        await asyncio.sleep(max(0.0, killed + 4.0 - time.time()))  # a 4 s outage at least
        await asyncio.to_thread(server.start)
        restarted = time.time()
        took = await until(state_is(memory, "cam", "streaming"), 15, "the stream to return")
        assert took < 10.0, f"back {took:.1f} s after the server restarted"
        back = stream_in_last_heartbeat(memory, "cam")
        assert back is not None
        assert back.reconnects == 1
        assert back.down_since is None
        assert back.last_gap_s is not None
        assert restarted - killed <= back.last_gap_s <= time.time() - killed + 1.0
        await until(
            lambda: any(f.ts > restarted for b in memory.batches() for f in b.frames),
            15,
            "detections after the restart",
        )
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        server.stop()


async def test_a_camera_that_never_answers_does_not_block_the_others(
    tmp_path: Path, model_path: Path, server: RtspServer
) -> None:
    silent = SilentServer()
    agent = make_agent(
        tmp_path,
        model_path,
        {"dead": {"uri": silent.url()}, "live": {"uri": server.url("mjpeg")}},
    )
    memory = agent.transport
    assert isinstance(memory, MemoryTransport)
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(
            lambda: any(b.stream_id == "live" for b in memory.batches()), 20, "live detections"
        )
        took = time.monotonic() - started
        assert took < 12.0, f"the live camera's first detections came after {took:.1f} s"
        dead = stream_in_last_heartbeat(memory, "dead")
        assert dead is not None
        assert dead.state in ("connecting", "failed")
        assert not task.done()
        batches = len([b for b in memory.batches() if b.stream_id == "live"])
        await asyncio.sleep(6.0)  # the dead camera retries meanwhile; the live one goes on
        assert len([b for b in memory.batches() if b.stream_id == "live"]) > batches
        dead = stream_in_last_heartbeat(memory, "dead")
        assert dead is not None
        assert dead.state in ("connecting", "failed")  # retrying, with why it failed
        assert dead.error is not None
        assert "cannot connect" in dead.error
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        silent.close()


async def test_credentials_in_the_url_never_reach_logs_or_heartbeats(
    tmp_path: Path,
    model_path: Path,
    clip: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    server = RtspServer(clip, tmp_path, user=USER, password=PASSWORD)
    server.start()
    silent = SilentServer()
    wrong = "wr0ng-Pa55w0rd"
    agent = make_agent(
        tmp_path,
        model_path,
        {
            "good": {"uri": server.url("h264")},
            "refused": {"uri": server.url("mjpeg", password=wrong)},
            "silent": {"uri": silent.url(f"{USER}:{PASSWORD}@")},
        },
    )
    memory = agent.transport
    assert isinstance(memory, MemoryTransport)
    caplog.set_level(logging.DEBUG)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await until(lambda: any(b.stream_id == "good" for b in memory.batches()), 30, "frames")
        await until(
            lambda: all(
                (h := stream_in_last_heartbeat(memory, s)) is not None and h.error
                for s in ("refused", "silent")
            ),
            30,
            "both failures in the heartbeat",
        )
        await asyncio.sleep(6.0)  # a few retries of each failing camera
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        server.stop()
        silent.close()

    heartbeats = memory.heartbeats()
    errors = [s.error for h in heartbeats for s in h.streams if s.error]
    assert any("127.0.0.1" in e for e in errors), errors  # the errors do name the camera
    wire = b"".join(msgspec.json.encode(m) for _, m in memory.sent).decode()
    logs = "\n".join(r.getMessage() for r in caplog.records)
    out, err = capfd.readouterr()  # OpenCV's and FFmpeg's own output too
    assert logs, "nothing was logged"
    for name, text in (("messages", wire), ("logs", logs), ("stdout", out), ("stderr", err)):
        assert PASSWORD not in text, f"the password leaked into {name}"
        assert wrong not in text, f"the wrong password leaked into {name}"
    assert isinstance(heartbeats[-1], Heartbeat)
