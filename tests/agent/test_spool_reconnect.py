"""The spool against a real, private Mosquitto that goes away and comes back.

Broker stopped while the agent publishes, then restarted: every seq arrives, once. The agent
SIGKILLed with a full spool and restarted: the spool replays, nothing is lost.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aios.agent.config import build_config
from aios.agent.runtime import make_transport
from aios.shared.messages import DetectionBatch, FrameDetections
from tests.agent.broker import PrivateBroker
from tests.agent.mqtt_capture import Collector
from tests.agent.test_run_mqtt import write_config
from tests.agent.videos import make_sample_video

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

# Issue 4 specifies a 60 s outage; AIOS_TEST_OUTAGE_S shortens it for quick local runs.
OUTAGE_S = float(os.environ.get("AIOS_TEST_OUTAGE_S", "60"))


def batch() -> DetectionBatch:
    frame = FrameDetections(ts=time.time(), frame_index=0, width=64, height=48, detections=[])
    return DetectionBatch(
        device_id="edge-1", stream_id="cam1", pipeline_version=0, seq=0, frames=[frame]
    )


def assert_every_seq_once(seqs: list[int], expected: int) -> None:
    assert sorted(set(seqs)) == list(range(expected)), "a seq is missing"
    duplicates = len(seqs) - len(set(seqs))
    assert duplicates == 0, f"{duplicates} duplicates"


def test_broker_outage_loses_nothing(tmp_path: Path, free_port: int, topic_prefix: str) -> None:
    broker = PrivateBroker(free_port, tmp_path / "broker")
    broker.start()
    config = build_config(
        {
            "device": {"org_id": "acme", "device_id": "edge-1"},
            # no control plane here: what the broker took is forgotten after ack_timeout_s
            "mqtt": {"url": broker.url, "topic_prefix": topic_prefix, "ack_timeout_s": 1},
            "state_dir": str(tmp_path / "state"),
        },
        environ={},
    )
    collector = Collector(broker.url, f"{topic_prefix}/v1/acme/edge-1/det", persistent=True)
    transport = make_transport(config)
    transport.start()
    stop = threading.Event()
    sent = 0

    def produce() -> None:
        nonlocal sent
        while not stop.is_set():
            transport.send(batch())
            sent += 1
            time.sleep(0.05)

    producer = threading.Thread(target=produce)
    try:
        assert transport.wait_connected(10)
        producer.start()
        time.sleep(1.0)
        broker.stop()
        time.sleep(OUTAGE_S)
        assert transport.stats().spool_depth > 0, "messages wait in the spool during the outage"
        broker.start()
        time.sleep(1.0)
        stop.set()
        producer.join()
        assert collector.wait_for(lambda: len(collector.of_type(DetectionBatch)) >= sent, 30)
        time.sleep(0.5)  # let late duplicates, if any, arrive
        assert_every_seq_once([b.seq for b in collector.of_type(DetectionBatch)], sent)
        deadline = time.monotonic() + 5
        while transport.stats().spool_depth and time.monotonic() < deadline:
            time.sleep(0.1)
        assert transport.stats().spool_depth == 0, "acknowledged messages leave the spool"
    finally:
        stop.set()
        transport.stop()
        collector.close()
        broker.close()


def test_sigkill_then_restart_replays_the_spool(
    tmp_path: Path, free_port: int, topic_prefix: str, model_path: Path, testdata_dir: Path
) -> None:
    broker = PrivateBroker(free_port, tmp_path / "broker")  # not started: the network is down
    video = make_sample_video(testdata_dir / "images", tmp_path / "v.mp4", seconds=2)
    config = write_config(
        tmp_path / "agent.yaml",
        video=video,
        mqtt_url=broker.url,
        prefix=topic_prefix,
        model=model_path,
        state=tmp_path / "state",
        loop=True,
        every_n=4,
    )
    agent_bin = str(Path(sys.executable).parent / "aios-agent")
    proc = subprocess.Popen(
        [agent_bin, "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        spool = tmp_path / "state" / "spool.sqlite"
        deadline = time.monotonic() + 60
        depth = 0
        while time.monotonic() < deadline and depth < 3:
            time.sleep(0.5)
            if spool.exists():
                # The file exists a moment before the agent has created its table.
                with sqlite3.connect(spool) as db, contextlib.suppress(sqlite3.OperationalError):
                    depth = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        assert depth >= 3, "batches pile up in the spool while the broker is down"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    broker.start()
    collector = Collector(broker.url, f"{topic_prefix}/v1/acme/edge-1/det")
    try:
        result = subprocess.run(
            [agent_bin, "run", "--config", str(config), "--duration", "4"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        seqs = [b.seq for b in collector.of_type(DetectionBatch)]
        assert seqs, "nothing arrived"
        assert_every_seq_once(seqs, max(seqs) + 1)
        assert max(seqs) + 1 > depth, "the spooled batches and new ones arrived"
    finally:
        collector.close()
        broker.close()
