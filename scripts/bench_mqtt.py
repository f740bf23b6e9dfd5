"""The MQTT side of ``scripts/bench_ingest.py``: a private Mosquitto and publisher processes.

:func:`private_broker` starts ``mosquitto -c <tmp conf>`` on a free port with the queue,
in-flight and persistence settings of ``docker/mosquitto/mosquitto.conf`` (the recommended AIOS
config). :class:`Publishers` runs paho publishers in their own processes (spawned, connected and
idle before anything is timed), so that neither their CPU nor the GIL is shared with the ingest.
"""

from __future__ import annotations

import multiprocessing
import shutil
import socket
import subprocess
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO_CONF = Path(__file__).resolve().parent.parent / "docker" / "mosquitto" / "mosquitto.conf"
BROKER_KEYS = ("max_queued_messages", "max_queued_bytes", "max_inflight_messages",
               "queue_qos0_messages", "persistence", "autosave_interval")  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def private_broker(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Mosquitto with the queue/in-flight/persistence settings of the recommended config."""
    port = free_port()
    recommended = [
        line.strip()
        for line in MOSQUITTO_CONF.read_text().splitlines()
        if line.strip().split(" ", 1)[0] in BROKER_KEYS
    ]
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        "\n".join(
            [
                f"listener {port} 127.0.0.1",
                "allow_anonymous true",
                *recommended,
                f"persistence_location {workdir}/",
            ]
        )
        + "\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, f"mqtt://127.0.0.1:{port}"


def publisher(mqtt: tuple[str, int]) -> paho.Client:
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id="bench-pub-" + uuid.uuid4().hex[:8],
        protocol=paho.MQTTv5,
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(*mqtt)
    client.loop_start()
    return client


def publish_paced(
    client: paho.Client, messages: list[tuple[str, bytes]], rate: float, start: float
) -> None:
    """Publish with QoS 1; message i at ``start + i / rate`` (0: all at once)."""
    infos = []
    for i, (topic, payload) in enumerate(messages):
        if rate:
            delay = start + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
        infos.append(client.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)


def publish_all(mqtt: tuple[str, int], messages: list[tuple[str, bytes]]) -> None:
    client = publisher(mqtt)
    publish_paced(client, messages, 0, 0)
    client.disconnect()
    client.loop_stop()


def publisher_process(mqtt: tuple[str, int], pipe: Connection) -> None:
    """A publisher in its own process: connects, says ``ready``, then runs jobs until None."""
    client = publisher(mqtt)
    pipe.send("ready")
    while (job := pipe.recv()) is not None:
        messages, rate, start = job
        publish_paced(client, messages, rate, start)
        pipe.send("done")
    client.disconnect()
    client.loop_stop()


class Publishers:
    """``n`` publisher processes, started (and connected) before anything is timed."""

    def __init__(self, mqtt: tuple[str, int], n: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for _ in range(n):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=publisher_process, args=(mqtt, theirs), daemon=True)
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)
        for pipe in self.pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise RuntimeError("a publisher process did not start")

    def start(self, shards: list[list[tuple[str, bytes]]], rate: float, start: float) -> None:
        for pipe, shard in zip(self.pipes, shards, strict=False):
            pipe.send((shard, rate, start))

    def join(self, shards: int) -> None:
        for pipe in self.pipes[:shards]:
            if not pipe.poll(300) or pipe.recv() != "done":
                raise RuntimeError("a publisher did not finish")

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for proc in self.procs:
            proc.join(10)
