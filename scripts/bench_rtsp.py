"""Decode cost per frame: the agent's RTSP source against reading the same video from a file.

    uv run python -m scripts.bench_rtsp [--seconds 20] [--width 1280 --height 720] [--fps 15]

Makes a sample video from the test images, has GStreamer write it as H.264 (the encoder the
RTSP server uses, ``scripts/rtsp_server.py --write-h264``), serves it with the RTSP server
(system Python, ``scripts/ensure_rtsp_deps.sh``), and reads ``--frames`` frames each way
through the agent's own cameras (``RtspCamera``, ``FileCamera`` unpaced). Prints one JSON
object; per source:

- ``cpu_ms_per_frame``: this process's CPU time (every thread: FFmpeg decodes on several)
  per frame read. RTSP adds depacketising, the jitter buffer and the socket reads; the file
  adds demuxing from disk;
- ``wall_fps``: frames per second as read (RTSP is paced by the server at the video's rate,
  the file is read as fast as it decodes);
- ``open_s``: seconds until the source was open (RTSP: connect, DESCRIBE/SETUP/PLAY and
  FFmpeg probing the stream).

``rtsp_over_file`` is the RTSP H.264 (TCP) CPU cost per frame over the file's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from tests.agent.rtsp_server import SYSTEM_PYTHON, RtspServer, require_gstreamer

from aios.agent.sources.camera import Camera
from aios.agent.sources.file import FileCamera
from aios.agent.sources.rtsp import RtspCamera
from scripts.sample_video import make_sample_video


def measure(camera: Camera, frames: int) -> dict[str, float]:
    started = time.perf_counter()
    camera.open()
    opened = time.perf_counter()
    try:
        camera.read()  # the first frame also pays for the decoder's start
        cpu0, wall0 = time.process_time(), time.perf_counter()
        count = 0
        for _ in range(frames):
            if camera.read() is None:
                break
            count += 1
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        camera.close()
    if count == 0:
        raise RuntimeError(f"{camera.name}: no frames")
    return {
        "frames": count,
        "cpu_ms_per_frame": round(cpu * 1e3 / count, 3),
        "wall_fps": round(count / wall, 2),
        "open_s": round(opened - started, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=float, default=15.0)
    args = parser.parse_args()
    require_gstreamer()
    seconds = args.frames / args.fps + 10.0  # the stream must outlast the reads
    with tempfile.TemporaryDirectory(prefix="bench-rtsp-") as tmp:
        folder = Path(tmp)
        clip = make_sample_video(
            folder / "clip.mp4", seconds=seconds, fps=args.fps, size=(args.width, args.height)
        )
        h264 = folder / "clip-h264.mp4"
        writer = [SYSTEM_PYTHON, "scripts/rtsp_server.py", "--video", str(clip)]
        subprocess.run([*writer, "--write-h264", str(h264)], check=True)
        server = RtspServer(h264, folder)
        server.start()
        try:
            results = {
                "file_h264": measure(FileCamera(h264, realtime=False), args.frames),
                "rtsp_h264_tcp": measure(RtspCamera(server.url("h264")), args.frames),
                "rtsp_h264_udp": measure(
                    RtspCamera(server.url("h264"), transport="udp"), args.frames
                ),
                "rtsp_mjpeg_tcp": measure(RtspCamera(server.url("mjpeg")), args.frames),
            }
        finally:
            server.stop()
    file_cost = results["file_h264"]["cpu_ms_per_frame"]
    report = {
        "resolution": f"{args.width}x{args.height}",
        "fps": args.fps,
        "sources": results,
        "rtsp_over_file": round(results["rtsp_h264_tcp"]["cpu_ms_per_frame"] / file_cost, 3),
        "opencv": cv2.__version__,
        "machine": platform.machine(),
        "cpus": len(os.sched_getaffinity(0)),
    }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
