"""Benchmark the whole agent pipeline against the bare network, in one process.

    uv run python -m scripts.bench_agent --model ../shared/models/yolov8n-coco.onnx --json

The agent runs for real (file capture in its thread, overlapped with inference; the detect
node's executor; the sink) with the in-memory transport, on a looping 1920x1080 video made from
the test images. Prints one JSON object:

- ``fps``, ``limit_fps``, ``ratio``: 1 stream, CPU provider, detection on every frame. The
  pipeline and the bare network are measured *interleaved* on the same session: ``--frames``
  frames through the pipeline, then as many raw ``session.run`` calls on a prepared tensor,
  queued in the detect node's own inference thread (the stream waits meanwhile), repeated
  ``--windows`` times, so machine noise hits both alike. ``fps`` = 1 / median interval between
  consecutive inferences of the pipeline, ``limit_fps`` = 1 / median raw run,
  ``ratio`` = ``fps / limit_fps``;
- ``streams4_fps_per_stream``, ``streams4_fps_total``: 4 sources feeding ONE detect node (one
  model session served in turn); ``detector_utilization``: the time spent inside the
  detector (letterbox, run, decode), clipped to the measured window, / its wall time;
  ``min_stream_share``: the fewest inferences a stream got / the mean (1.0 = fair);
  ``streams4_detect_ms``: median time inside the detector then;
- ``rss_mb``: this process's RSS during the 1-stream run;
- ``install_mb``: installed size of ``aios-agent`` (with ONNX Runtime) and its dependency
  closure, summed over each distribution's RECORD files; ``install_breakdown_mb``: the five
  largest distributions of it;
- ``load_avg``: the machine's 1-minute load average before and after (a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt
import psutil

from aios.agent.config import build_config
from aios.agent.detections import Detections
from aios.agent.pipeline.nodes.detect import DetectRuntime
from aios.agent.pipeline.packet import Packet
from aios.agent.runtime import Agent, RunOptions
from aios.agent.transport.memory import MemoryTransport

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.figures import print_figures
from scripts.sample_video import make_sample_video

ROOT = Path(__file__).resolve().parent.parent


def pipeline(video: Path, streams: int) -> dict[str, object]:
    """``streams`` looping file sources -> one detect node -> a detections sink."""
    nodes: list[dict[str, object]] = [
        {"id": "det", "type": "detect", "params": {"provider": "cpu", "every_n": 1}},
        {"id": "out", "type": "sink", "params": {"kind": "mqtt_detections"}},
    ]
    edges = [{"source": "det", "target": "out"}]
    for i in range(streams):
        nodes.append(
            {
                "id": f"cam{i}",
                "type": "source",
                "params": {"kind": "file", "uri": str(video), "loop": True},
            }
        )
        edges.append({"source": f"cam{i}", "target": "det"})
    return {"name": f"bench{streams}", "nodes": nodes, "edges": edges}


async def start_agent(
    video: Path, model: Path, state: Path, streams: int
) -> tuple[Agent, asyncio.Event, asyncio.Task[None], DetectRuntime]:
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
    options = RunOptions(file_realtime=False, install_signal_handlers=False)
    agent = Agent(config, transport=MemoryTransport(), options=options)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    while agent.supervisor.current is None:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    node = agent.supervisor.current.nodes["det"]
    assert isinstance(node, DetectRuntime)
    return agent, stop, task, node


async def one_stream(
    video: Path, model: Path, state: Path, frames: int, windows: int, warmup_s: float
) -> dict[str, object]:
    """Interleaved windows: ``frames`` pipeline inferences, then ``frames`` raw runs."""
    _, stop, task, node = await start_agent(video, model, state, 1)
    stamps: list[float] = []
    done = asyncio.Event()
    process = node.process

    async def timed(inputs: list[Packet]) -> Packet | None:
        out = await process(inputs)
        if out is not None:
            stamps.append(time.perf_counter())
            done.set()
        return out

    node.process = timed  # type: ignore[method-assign,assignment]
    detector = node.detector
    tensor = detector.input_tensor.copy()

    def raw_runs() -> list[float]:
        times = []
        for _ in range(frames):
            started = time.perf_counter()
            detector.run_raw(tensor)
            times.append(time.perf_counter() - started)
        return times

    pipeline_s: list[float] = []
    raw_s: list[float] = []
    rss_mb = 0.0
    try:
        await asyncio.sleep(warmup_s)
        await node.run_in_turn(raw_runs)  # warm the raw path too
        for _ in range(windows):
            first = len(stamps)
            while len(stamps) < first + frames + 1:
                done.clear()
                await done.wait()
            window = stamps[first : first + frames + 1]
            pipeline_s += [b - a for a, b in itertools.pairwise(window)]
            raw_s += await node.run_in_turn(raw_runs)
            rss_mb = max(rss_mb, psutil.Process().memory_info().rss / 2**20)
    finally:
        stop.set()
        await task
    return {
        "pipeline_s": statistics.median(pipeline_s),
        "raw_s": statistics.median(raw_s),
        "rss_mb": rss_mb,
        "provider": detector.provider,
    }


async def four_streams(
    video: Path, model: Path, state: Path, warmup_s: float, measure_s: float
) -> dict[str, object]:
    _, stop, task, node = await start_agent(video, model, state, 4)
    spans: list[tuple[float, float]] = []  # (start, end) of every inference
    detect = node.detector.detect

    def timed(frame: npt.NDArray[np.generic]) -> Detections:
        started = time.perf_counter()
        try:
            return detect(frame)
        finally:
            spans.append((started, time.perf_counter()))

    node.detector.detect = timed  # type: ignore[method-assign]
    try:
        await asyncio.sleep(warmup_s)
        t0, n0 = time.perf_counter(), dict(node.inferences)
        await asyncio.sleep(measure_s)
        t1, n1 = time.perf_counter(), dict(node.inferences)
    finally:
        stop.set()
        await task
    busy = sum(max(0.0, min(end, t1) - max(start, t0)) for start, end in spans)
    inside = [end - start for start, end in spans if start >= t0 and end <= t1]
    counts = {cam: n1.get(cam, 0) - n0.get(cam, 0) for cam in (f"cam{i}" for i in range(4))}
    total = sum(counts.values())
    mean = total / len(counts)
    return {
        "fps_total": total / (t1 - t0),
        "utilization": busy / (t1 - t0),
        "per_stream": counts,
        "min_share": min(counts.values()) / mean if mean else 0.0,
        "detect_s": statistics.median(inside) if inside else float("nan"),
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


def install_closure(root: str, extras: set[str]) -> dict[str, float]:
    """MB installed by ``root`` (with ``extras``) and by every distribution it pulls in,
    per distribution."""
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
    sizes: dict[str, float] = {}
    for key, dist in seen.items():
        total = 0
        for file in dist.files or []:
            try:
                total += Path(str(dist.locate_file(file))).stat().st_size
            except OSError:
                continue
        sizes[key] = total / 2**20
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--frames", type=int, default=10, help="frames per interleaved window")
    parser.add_argument("--windows", type=int, default=8, help="interleaved window pairs")
    parser.add_argument("--seconds", type=float, default=20.0, help="4-stream measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        video = make_sample_video(
            Path(tmp) / "bench1080p.mp4", seconds=6.0, fps=15.0, size=(1920, 1080)
        )
        one = asyncio.run(
            one_stream(video, args.model, Path(tmp) / "s1", args.frames, args.windows, args.warmup)
        )
        four = asyncio.run(
            four_streams(video, args.model, Path(tmp) / "s4", args.warmup, args.seconds)
        )
    sizes = install_closure("aios-agent", {"cpu"})
    top = sorted(sizes.items(), key=lambda kv: kv[1], reverse=True)[:5]
    fps = 1.0 / float(one["pipeline_s"])  # type: ignore[arg-type]
    limit = 1.0 / float(one["raw_s"])  # type: ignore[arg-type]
    result = {
        "fps": round(fps, 2),
        "limit_fps": round(limit, 2),
        "ratio": round(fps / limit, 3),
        "raw_ms": round(float(one["raw_s"]) * 1000, 1),  # type: ignore[arg-type]
        "pipeline_ms": round(float(one["pipeline_s"]) * 1000, 1),  # type: ignore[arg-type]
        "streams4_fps_total": round(float(four["fps_total"]), 2),  # type: ignore[arg-type]
        "streams4_fps_per_stream": round(float(four["fps_total"]) / 4, 2),  # type: ignore[arg-type]
        "streams4_inferences": four["per_stream"],
        "streams4_detect_ms": round(float(four["detect_s"]) * 1000, 1),  # type: ignore[arg-type]
        "detector_utilization": round(float(four["utilization"]), 3),  # type: ignore[arg-type]
        "min_stream_share": round(float(four["min_share"]), 3),  # type: ignore[arg-type]
        "rss_mb": round(float(one["rss_mb"]), 1),  # type: ignore[arg-type]
        "install_mb": round(sum(sizes.values()), 1),
        "install_dists": len(sizes),
        "install_breakdown_mb": {name: round(mb, 1) for name, mb in top},
        "provider": one["provider"],
        "cpus": os.cpu_count(),
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "python": platform.python_version(),
        "frame": "1920x1080",
        "windows": f"{args.windows} x {args.frames} frames",
        "streams4_window_s": args.seconds,
    }
    print_figures(result, as_json=args.json, width=26)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
