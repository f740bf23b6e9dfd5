"""The load run: a simulated fleet drives the ingest and the API together.

``--devices`` simulated devices (a few paho connections publish for all of them, as
``scripts/bench_fleet.py`` does) each send a numbered detection batch every ``--interval``
seconds and a heartbeat every 2 s, for ``--seconds``, into ``aios serve`` (ingest in process)
on the private Mosquitto and PostgreSQL; meanwhile API readers poll the detections and fleet
endpoints. Measured: sustained throughput (batches stored per second), publish-to-commit
latency (publish time to the arrival of the control plane's acknowledgement naming the batch:
commit plus the acknowledgement's trip), the control plane's RSS over time and the ingest
queue depth (``/health``).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from aios.shared.codec import decode_message, encode
from aios.shared.messages import (
    Detection,
    DetectionBatch,
    FrameDetections,
    Heartbeat,
    IngestAck,
)
from scripts.proof.rig import PREFIX, ControlPlane, Mosquitto, Postgres, register

CONNECTIONS = 4


@dataclass
class LoadResult:
    devices: int
    seconds: float
    interval: float
    published: int
    stored: int
    throughput: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    queue_depth: list[tuple[float, int]] = field(default_factory=list)
    api_requests: int = 0
    api_p99_ms: float | None = None

    def markdown(self) -> list[str]:
        rss = [r for _, r in self.rss_mb]
        depth = [d for _, d in self.queue_depth]
        return [
            f"{self.devices} simulated devices each publishing a numbered batch (1 frame, 3 "
            f"objects) every {self.interval:g} s and a heartbeat every 2 s, for "
            f"{self.seconds:.0f} s, while two API readers poll the detections and the fleet.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| batches published | {self.published} |",
            f"| batches stored | {self.stored} |",
            f"| sustained throughput | {self.throughput:.1f} batches/s |",
            f"| publish-to-commit p50 | {_ms(self.latency_p50_ms)} |",
            f"| publish-to-commit p99 | {_ms(self.latency_p99_ms)} |",
            f"| control-plane RSS min / max | {min(rss, default=0):.0f} / "
            f"{max(rss, default=0):.0f} MB |",
            f"| ingest queue depth max | {max(depth, default=0)} |",
            f"| API requests (p99) | {self.api_requests} ({_ms(self.api_p99_ms)}) |",
            "",
            "RSS over time (s: MB): "
            + ", ".join(f"{t:.0f}: {r:.0f}" for t, r in self.rss_mb[:: max(1, len(rss) // 20)]),
        ]


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} ms"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Fleet:
    def __init__(self, url: str, org: str, devices: list[str], interval: float) -> None:
        port = int(url.rsplit(":", 1)[1])
        self.org, self.devices, self.interval = org, devices, interval
        self.sent: dict[str, dict[int, float]] = {d: {} for d in devices}
        self.latency: list[float] = []
        self.published = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._clients: list[paho.Client] = []
        for i in range(CONNECTIONS):
            c = paho.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=f"proof-fleet-{i}-{uuid.uuid4().hex[:6]}",
                protocol=paho.MQTTv5,
            )
            c.max_inflight_messages_set(1000)
            c.on_message = self._on_ack
            c.connect("127.0.0.1", port)
            c.subscribe(f"{PREFIX}/v1/{org}/+/ack", qos=0) if i == 0 else None
            c.loop_start()
            self._clients.append(c)
        self._threads = [
            threading.Thread(target=self._run, args=(c, devices[i::CONNECTIONS]), daemon=True)
            for i, c in enumerate(self._clients)
        ]

    def _on_ack(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        ack = decode_message(msg.payload)
        if not isinstance(ack, IngestAck) or ack.detections is None:
            return
        now = time.time()
        with self._lock:
            waiting = self.sent.get(ack.device_id, {})
            for seq in [s for s in waiting if ack.detections.stored(s)]:
                self.latency.append(now - waiting.pop(seq))

    def _run(self, client: paho.Client, devices: list[str]) -> None:
        seq = dict.fromkeys(devices, 0)
        beat = 0.0
        while not self._stop.is_set():
            start = time.time()
            for d in devices:
                ts = time.time()
                frame = FrameDetections(
                    ts=ts,
                    frame_index=seq[d],
                    width=640,
                    height=480,
                    detections=[
                        Detection(
                            class_id=0,
                            label="person",
                            confidence=0.9,
                            xyxy=(0.1, 0.1, 0.2, 0.3 + i * 0.1),
                        )
                        for i in range(3)
                    ],
                )
                payload = encode(
                    DetectionBatch(
                        device_id=d, stream_id="cam", pipeline_version=0, seq=seq[d], frames=[frame]
                    )
                )
                with self._lock:
                    self.sent[d][seq[d]] = ts
                    self.published += 1
                client.publish(f"{PREFIX}/v1/{self.org}/{d}/det", payload, qos=1)
                seq[d] += 1
            if start - beat >= 2:
                beat = start
                for d in devices:
                    hb = Heartbeat(
                        device_id=d,
                        ts=time.time(),
                        uptime_s=1.0,
                        agent_version="sim",
                        last_seq=seq[d] - 1,
                    )
                    client.publish(f"{PREFIX}/v1/{self.org}/{d}/hb", encode(hb), qos=0)
            self._stop.wait(max(0.0, self.interval - (time.time() - start)))

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def close(self) -> None:
        for c in self._clients:
            c.loop_stop()
            c.disconnect()


def run_load(
    workdir: Path,
    mosquitto: Mosquitto,
    postgres: Postgres,
    *,
    devices: int,
    seconds: float,
    interval: float = 1.0,
) -> LoadResult:
    url = postgres.create_database("proof_load_" + uuid.uuid4().hex[:6])
    cp = ControlPlane(workdir / "load", url, mosquitto.url)
    cp.upgrade()
    cp.start()
    org, auth = register(cp.base)
    names = [f"sim-{i:05d}" for i in range(devices)]
    fleet = Fleet(mosquitto.url, org, names, interval)
    proc = psutil.Process(cp.serve.pid) if cp.serve else None
    result = LoadResult(devices, seconds, interval, 0, 0, 0.0, None, None)
    last = (0.0, 0)
    api_times: list[float] = []
    stop_api = threading.Event()

    def read_api() -> None:
        with httpx.Client(base_url=cp.base, headers=auth, timeout=30) as http:
            while not stop_api.is_set():
                t = time.perf_counter()
                http.get("/api/v1/dashboard/detections", params={"limit": 100})
                http.get("/api/v1/fleet/")
                api_times.append((time.perf_counter() - t) * 1000 / 2)
                stop_api.wait(0.5)

    readers = [threading.Thread(target=read_api, daemon=True) for _ in range(2)]
    fleet.start()
    for r in readers:
        r.start()
    began = time.monotonic()
    stored_at_start = None
    try:
        while time.monotonic() - began < seconds:
            time.sleep(5)
            t = time.monotonic() - began
            if proc is not None:
                result.rss_mb.append((t, proc.memory_info().rss / 2**20))
            try:
                health = httpx.get(f"{cp.base}/health", timeout=10).json()
                ingest = health.get("ingest") or {}
                result.queue_depth.append((t, int(ingest.get("queue_depth", 0))))
                if stored_at_start is None:
                    stored_at_start = (t, int(ingest.get("batches_stored", 0)))
                last = (t, int(ingest.get("batches_stored", 0)))
            except (httpx.HTTPError, ValueError):
                continue
    finally:
        fleet.stop()
        stop_api.set()
        for r in readers:
            r.join(10)
        time.sleep(5)
        fleet.close()
        try:
            health = httpx.get(f"{cp.base}/health", timeout=10).json()
            result.stored = int((health.get("ingest") or {}).get("batches_stored", 0))
        except (httpx.HTTPError, ValueError):
            pass
        cp.stop()
    result.published = fleet.published
    if stored_at_start is not None and last[0] > stored_at_start[0]:
        result.throughput = (last[1] - stored_at_start[1]) / (last[0] - stored_at_start[0])
    ms = [v * 1000 for v in fleet.latency]
    result.latency_p50_ms = statistics.median(ms) if ms else None
    result.latency_p99_ms = _pct(ms, 0.99)
    result.api_requests = len(api_times) * 2
    result.api_p99_ms = _pct(api_times, 0.99)
    return result
