"""Benchmark the whole agent pipeline against the bare network, in one process.

    uv run python scripts/bench_agent.py --model ../shared/models/yolov8n-coco.onnx --json

The agent runs for real (file capture in its thread, the detect node's executor, the sink),
with the in-memory transport, on a looping 1920x1080 video made from the test images. Prints
one JSON object:

- ``fps``: frames processed per second, 1 stream, CPU provider, detection on every frame;
- ``limit_fps``: 1 / median raw ``session.run`` of the same detector (same session, same
  thread settings), measured in the same process after the run; ``ratio`` = ``fps/limit_fps``;
- ``streams4_fps_per_stream``, ``streams4_fps_total``: 4 sources sharing one detect node;
  ``detector_utilization``: share of the wall time the detector is busy inside ``detect``;
  ``min_stream_share``: the slowest stream's share of frames divided by 1/4 (1.0 = fair);
- ``rss_mb``: this process's RSS at the end of the 1-stream run;
- ``install_mb``: installed size of ``aios-agent`` (with ONNX Runtime) and its dependency
  closure, summed over each distribution's RECORD files.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt
import psutil

from aios.agent.config import build_config
from aios.agent.detections import Detections
from aios.agent.pipeline.nodes.detect import DetectRuntime
from aios.agent.runtime import Agent, RunOptions
from aios.agent.transport.memory import MemoryTransport

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.sample_video import make_sample_video

ROOT = Path(__file__).resolve().parent.parent


class BusyClock:
    """Adds up the wall time during which at least one detector is inside ``detect`` (the
    4-stream pipeline has one detect node, so one ONNX Runtime session, per stream)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._since = 0.0
        self.busy_s = 0.0

    def wrap(
        self, detect: Callable[[npt.NDArray[np.generic]], Detections]
    ) -> Callable[[npt.NDArray[np.generic]], Detections]:
        def timed(frame: npt.NDArray[np.generic]) -> Detections:
            with self._lock:
                if self._active == 0:
                    self._since = time.perf_counter()
                self._active += 1
            try:
                return detect(frame)
            finally:
                with self._lock:
                    self._active -= 1
                    if self._active == 0:
                        self.busy_s += time.perf_counter() - self._since

        return timed

    def busy(self) -> float:
        """Busy seconds so far, including a detection still running."""
        with self._lock:
            running = time.perf_counter() - self._since if self._active else 0.0
            return self.busy_s + running


def pipeline(video: Path, streams: int) -> dict[str, object]:
    nodes: list[dict[str, object]] = [
        {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
    ]
    edges: list[dict[str, str]] = []
    for i in range(streams):
        detect = {"provider": "cpu", "every_n": 1}
        nodes.append({"id": f"det{i}", "type": "detect", "params": detect})
        edges += [
            {"source": f"cam{i}", "target": f"det{i}"},
            {"source": f"det{i}", "target": "out"},
        ]
        nodes.append(
            {
                "id": f"cam{i}",
                "type": "source",
                "params": {"kind": "file", "uri": str(video), "loop": True},
            }
        )
    return {"name": f"bench{streams}", "nodes": nodes, "edges": edges}


async def run_window(
    video: Path, model: Path, state: Path, streams: int, warmup_s: float, measure_s: float
) -> dict[str, object]:
    config = build_config(
        {
            "device": {"org_id": "bench", "device_id": "bench"},
            "state_dir": str(state),
            "model_path": str(model),
            "apply": {"enabled": False},
            "heartbeat_interval_s": 3600,
            "pipeline": pipeline(video, streams),
        },
        environ={},
    )
    transport = MemoryTransport()
    options = RunOptions(file_realtime=False, install_signal_handlers=False)
    agent = Agent(config, transport=transport, options=options)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    while agent.supervisor.current is None:  # noqa: ASYNC110 - nothing to wait on but polling
        await asyncio.sleep(0.05)
    runner = agent.supervisor.current
    clock = BusyClock()
    detectors = []
    for i in range(streams):
        node = runner.nodes[f"det{i}"]
        assert isinstance(node, DetectRuntime)
        node.detector.detect = clock.wrap(node.detector.detect)  # type: ignore[method-assign]
        detectors.append(node.detector)
    detector = detectors[0]
    metrics = runner.ctx.metrics
    await asyncio.sleep(warmup_s)
    t0, n0, b0 = time.time(), metrics.frames_processed, clock.busy()
    await asyncio.sleep(measure_s)
    t1, n1, b1 = time.time(), metrics.frames_processed, clock.busy()
    rss_mb = psutil.Process().memory_info().rss / 2**20
    stop.set()
    await task
    per_stream: dict[str, int] = {f"cam{i}": 0 for i in range(streams)}
    for batch in transport.batches():
        per_stream[batch.stream_id] += sum(1 for f in batch.frames if t0 <= f.ts <= t1)
    tensor = detector.input_tensor.copy()
    for _ in range(3):
        detector.run_raw(tensor)
    raw: list[float] = []
    for _ in range(30):
        started = time.perf_counter()
        detector.run_raw(tensor)
        raw.append(time.perf_counter() - started)
    return {
        "fps": (n1 - n0) / (t1 - t0),
        "utilization": (b1 - b0) / (t1 - t0),
        "per_stream": per_stream,
        "raw_s": statistics.median(raw),
        "rss_mb": rss_mb,
        "provider": detector.provider,
    }


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(dist: metadata.Distribution, extras: set[str]) -> list[str]:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover - packaging is nearly always there
        Requirement = None  # type: ignore[assignment,misc]  # noqa: N806
    names: list[str] = []
    for text in dist.requires or []:
        if Requirement is not None:
            req = Requirement(text)
            env_ok = req.marker is None or any(
                req.marker.evaluate({"extra": e}) for e in (extras or {""})
            )
            if env_ok:
                names.append(req.name)
        elif "extra ==" not in text:
            match = _NAME.match(text)
            if match:
                names.append(match.group(1))
    return names


def install_closure(root: str, extras: set[str]) -> tuple[float, list[str]]:
    """MB installed by ``root`` (with ``extras``) and every distribution it pulls in."""
    seen: dict[str, metadata.Distribution] = {}
    todo: list[tuple[str, set[str]]] = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        key = _normalize(name)
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = dist
        todo.extend((req, set()) for req in _requirements(dist, wanted))
    total = 0
    for dist in seen.values():
        for file in dist.files or []:
            try:
                total += Path(str(dist.locate_file(file))).stat().st_size
            except OSError:
                continue
    return total / 2**20, sorted(seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=5.0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        video = make_sample_video(
            Path(tmp) / "bench1080p.mp4", seconds=6.0, fps=15.0, size=(1920, 1080)
        )
        one = asyncio.run(
            run_window(video, args.model, Path(tmp) / "s1", 1, args.warmup, args.seconds)
        )
        four = asyncio.run(
            run_window(video, args.model, Path(tmp) / "s4", 4, args.warmup, args.seconds)
        )
    install_mb, closure = install_closure("aios-agent", {"cpu"})
    limit = 1.0 / float(one["raw_s"])  # type: ignore[arg-type]
    counts = list(four["per_stream"].values())  # type: ignore[attr-defined]
    total = sum(counts) or 1
    result = {
        "fps": round(float(one["fps"]), 2),  # type: ignore[arg-type]
        "limit_fps": round(limit, 2),
        "ratio": round(float(one["fps"]) / limit, 3),  # type: ignore[arg-type]
        "raw_ms": round(float(one["raw_s"]) * 1000, 1),  # type: ignore[arg-type]
        "detector_utilization_1": round(float(one["utilization"]), 3),  # type: ignore[arg-type]
        "streams4_fps_total": round(float(four["fps"]), 2),  # type: ignore[arg-type]
        "streams4_fps_per_stream": round(float(four["fps"]) / 4, 2),  # type: ignore[arg-type]
        "streams4_frames": four["per_stream"],
        "detector_utilization": round(float(four["utilization"]), 3),  # type: ignore[arg-type]
        "min_stream_share": round(min(counts) / total * 4, 3),
        "rss_mb": round(float(one["rss_mb"]), 1),  # type: ignore[arg-type]
        "install_mb": round(install_mb, 1),
        "install_dists": len(closure),
        "provider": one["provider"],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "frame": "1920x1080",
        "window_s": args.seconds,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
