"""Benchmark the agent's detector against the bare network, in one process.

    uv run python -m scripts.bench_detector --model ../shared/models/yolov8n-coco.onnx --json

Prints one JSON object:

- ``raw_ms``: median ``session.run`` on a prepared 640x640 tensor (the network alone);
- ``detect_ms``: median ``Detector.detect`` on a photo (letterbox + run + decode + NMS +
  rescale); ``ratio`` = ``detect_ms / raw_ms``. Both are measured interleaved (ABBA order) on
  the same session and thread settings, so machine noise hits both;
- ``raw_1080p_ms``, ``detect_1080p_ms``, ``ratio_1080p``: the same for a 1920x1080 frame;
- ``pre_post_ms``, ``pre_post_1080p_ms``: median of what detect adds to the network (letterbox,
  decode, NMS, rescale) timed alone: a noise-robust view of the same overhead;
- ``static_skip_share``: frames skipped by motion gating on a static clip (sensor noise only);
- ``moving_tracks``, ``moving_tracks_lost``, ``moving_skip_share``: on a clip that pans,
  holds and zooms, tracks seen when running every frame, and how many of them the motion-gated
  run loses (a track is lost when fewer than half of its frames have a same-class box with
  IoU >= 0.5 in the gated output, which reuses the last detections on skipped frames);
- with ``--provider NAME`` (``openvino``...): ``NAME_detect_ms`` against ``cpu_detect_ms``
  (interleaved), ``NAME_speedup``, the same for the raw run, and parity: ``NAME_same_boxes_as_cpu``
  and ``NAME_reference_boxes`` / ``cpu_reference_boxes`` (same class, IoU >= 0.9, confidence
  within 0.02; see ``scripts/provider_parity.py``). ``compared_provider`` is the one that loaded
  (``cpu`` if it fell back);
- with ``--int8-model``: ``int8_speedup`` (fp32 detect median / int8 detect median) and
  ``int8_agreement`` (share of fp32 boxes on the test images matched by int8, same class,
  IoU >= 0.5).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from aios.agent.detections import Detections
from aios.agent.inference import Detector, FramePolicy
from scripts.figures import print_figures
from scripts.provider_parity import interleaved, provider_figures

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
Frame = npt.NDArray[np.uint8]


def ratio_of(detector: Detector, frame: Frame, rounds: int) -> tuple[float, float]:
    """(raw_ms, detect_ms) for ``frame``; the raw tensor is the letterboxed frame itself."""
    detector.detect(frame)
    tensor = detector.input_tensor.copy()
    for _ in range(3):
        detector.run_raw(tensor)
        detector.detect(frame)
    return interleaved(lambda: detector.run_raw(tensor), lambda: detector.detect(frame), rounds)


def pre_post_ms(detector: Detector, frame: Frame, rounds: int) -> float:
    """Median ms of everything detect does besides the network (letterbox, decode, NMS)."""
    geometry = detector.prepare(frame)
    output = detector.run_raw(detector.input_tensor.copy())
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        detector.prepare(frame)
        detector.decode_output(output, geometry)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _noisy(frame: Frame, rng: np.random.Generator, sigma: float = 2.0) -> Frame:
    noise = rng.normal(0.0, sigma, frame.shape)
    return np.clip(frame.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def static_clip(image: Frame, n: int, rng: np.random.Generator) -> Iterator[Frame]:
    for _ in range(n):
        yield _noisy(image, rng)


def moving_clip(image: Frame, rng: np.random.Generator) -> Iterator[Frame]:
    """A 640x480 window that pans, holds still, then zooms out over ``image``."""
    h, w = image.shape[:2]
    win_w, win_h = min(640, w), min(480, h)
    xs = list(np.linspace(0, w - win_w, 24).round().astype(int))
    for x in xs:  # pan
        yield _noisy(image[h - win_h :, x : x + win_w].copy(), rng)
    for _ in range(16):  # hold
        yield _noisy(image[h - win_h :, xs[-1] : xs[-1] + win_w].copy(), rng)
    for k in range(1, 21):  # zoom out towards the whole image
        cw = round(win_w + (w - win_w) * k / 20)
        ch = round(win_h + (h - win_h) * k / 20)
        crop = image[h - ch :, w - cw :]
        small = cv2.resize(crop, (win_w, win_h), interpolation=cv2.INTER_AREA)
        yield _noisy(np.asarray(small, np.uint8), rng)


def _iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """IoU matrix of xyxy boxes a (N, 4) and b (M, 4)."""
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    out: npt.NDArray[np.float32] = inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)
    return out


def matched(ref: Detections, other: Detections, iou: float = 0.5) -> npt.NDArray[np.bool_]:
    """For each box of ``ref``: is there a box of the same class in ``other`` with IoU >= iou?"""
    if not len(ref) or not len(other):
        return np.zeros(len(ref), np.bool_)
    same = ref.class_id[:, None] == other.class_id[None, :]
    found: npt.NDArray[np.bool_] = ((_iou(ref.xyxy, other.xyxy) >= iou) & same).any(axis=1)
    return found


def tracks_of(frames: list[Detections]) -> list[list[tuple[int, int]]]:
    """Greedy IoU tracking: each track is a list of (frame index, box index)."""
    tracks: list[list[tuple[int, int]]] = []
    open_tracks: dict[int, int] = {}  # box index in the previous frame -> track index
    for t, det in enumerate(frames):
        current: dict[int, int] = {}
        prev = frames[t - 1] if t else Detections.empty()
        ious = _iou(det.xyxy, prev.xyxy) if len(det) and len(prev) else None
        for i in range(len(det)):
            j = -1
            if ious is not None:
                candidates = np.where(prev.class_id == det.class_id[i], ious[i], 0.0)
                j = int(candidates.argmax()) if candidates.max() >= 0.3 else -1
            if j >= 0 and j in open_tracks and open_tracks[j] not in current.values():
                track = open_tracks[j]
            else:
                track = len(tracks)
                tracks.append([])
            tracks[track].append((t, i))
            current[i] = track
        open_tracks = current
    return tracks


def motion_check(
    detector: Detector, image: Frame, threshold: float, rng: np.random.Generator
) -> dict[str, float | int]:
    frames = list(moving_clip(image, rng))
    every = [detector.detect(f) for f in frames]
    policy = FramePolicy(motion_threshold=threshold)
    gated: list[Detections] = []
    last = Detections.empty()
    for t, frame in enumerate(frames):
        if policy.should_infer(frame, t / 25.0):
            last = detector.detect(frame)
        gated.append(last)
    tracks = [tr for tr in tracks_of(every) if len(tr) >= 5]
    lost = 0
    for track in tracks:
        hits = [bool(matched(every[t].filter(_one(every[t], i)), gated[t])[0]) for t, i in track]
        lost += sum(hits) < len(hits) / 2
    return {
        "moving_frames": len(frames),
        "moving_tracks": len(tracks),
        "moving_tracks_lost": lost,
        "moving_skip_share": round(policy.stats.skip_share, 3),
    }


def _one(det: Detections, index: int) -> npt.NDArray[np.bool_]:
    mask = np.zeros(len(det), np.bool_)
    mask[index] = True
    return mask


def int8_figures(
    fp32: Detector, int8: Detector, images: list[Frame], rounds: int
) -> dict[str, float]:
    frame = images[0]
    for _ in range(3):
        fp32.detect(frame)
        int8.detect(frame)
    t32, t8 = interleaved(lambda: fp32.detect(frame), lambda: int8.detect(frame), rounds)
    total = agree = 0
    for image in images:
        ref = fp32.detect(image)
        total += len(ref)
        agree += int(matched(ref, int8.detect(image)).sum())
    return {
        "int8_detect_ms": round(t8, 2),
        "int8_speedup": round(t32 / t8, 3),
        "int8_agreement": round(agree / total, 3) if total else 1.0,
    }


def _read(path: Path) -> Frame:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return np.asarray(image, np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=SHARED / "models" / "yolov8n-coco.onnx")
    parser.add_argument("--images", type=Path, default=SHARED / "testdata" / "images")
    parser.add_argument("--int8-model", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=40, help="timed runs of each kind")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads")
    parser.add_argument("--no-spin", action="store_true", help="turn thread spinning off")
    parser.add_argument("--motion-threshold", type=float, default=1.5)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument(
        "--provider",
        default="cpu",
        help="also run this provider (openvino, cuda...) against cpu: speed and parity",
    )
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    images = [_read(p) for p in paths]
    by_name: dict[str, Frame] = dict(zip((p.name for p in paths), images, strict=True))
    photo = by_name.get("bus.jpg", images[0])
    wide = np.asarray(cv2.resize(by_name.get("zidane.jpg", images[0]), (1920, 1080)), np.uint8)

    detector = Detector.load(
        args.model, provider="cpu", intra_op_threads=args.threads, spinning=not args.no_spin
    )
    raw_ms, detect_ms = ratio_of(detector, photo, args.rounds)
    raw_hd, detect_hd = ratio_of(detector, wide, args.rounds)
    extra_ms = pre_post_ms(detector, photo, args.rounds * 2)
    extra_hd = pre_post_ms(detector, wide, args.rounds * 2)

    policy = FramePolicy(motion_threshold=args.motion_threshold)
    for t, frame in enumerate(static_clip(photo, 60, rng)):
        policy.should_infer(frame, t / 25.0)

    result: dict[str, object] = {
        "model": args.model.name,
        "provider": detector.provider,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.processor() or '?'}",
        "onnxruntime": ort.__version__,
        "threads": args.threads,
        "spinning": not args.no_spin,
        "image": f"{photo.shape[1]}x{photo.shape[0]}",
        "raw_ms": round(raw_ms, 2),
        "detect_ms": round(detect_ms, 2),
        "ratio": round(detect_ms / raw_ms, 3),
        "raw_1080p_ms": round(raw_hd, 2),
        "detect_1080p_ms": round(detect_hd, 2),
        "ratio_1080p": round(detect_hd / raw_hd, 3),
        "pre_post_ms": round(extra_ms, 3),
        "pre_post_1080p_ms": round(extra_hd, 3),
        "motion_threshold": args.motion_threshold,
        "static_skip_share": round(policy.stats.skip_share, 3),
    }
    result.update(
        motion_check(detector, by_name.get("zidane.jpg", photo), args.motion_threshold, rng)
    )
    if args.int8_model is not None:
        int8 = Detector.load(
            args.int8_model,
            provider="cpu",
            intra_op_threads=args.threads,
            spinning=not args.no_spin,
        )
        result.update(int8_figures(detector, int8, images, args.rounds // 2))
    if args.provider != "cpu":
        other = Detector.load(args.model, provider=args.provider, intra_op_threads=args.threads)
        expected = args.images.parent / "expected" / "yolov8n-coco.json"
        reference = expected if args.model.name == "yolov8n-coco.onnx" else None
        named = dict(zip((p.name for p in paths), images, strict=True))
        result.update(provider_figures(detector, other, named, photo, args.rounds // 2, reference))
    print_figures(result, as_json=args.json, width=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
