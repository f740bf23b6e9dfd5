"""Another execution provider against the CPU provider: speed and the same boxes.

Used by ``scripts/bench_detector.py --provider NAME`` and by the OpenVINO checks. Boxes are
"the same" under the tolerances of the reference test (``../shared/testdata/README.md``):
same class, IoU >= 0.9, confidence within 0.02.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from aios.agent.detections import Detections
from aios.agent.inference import Detector

Frame = npt.NDArray[np.uint8]
IOU = 0.9
CONF = 0.02


def _box_iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    w = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    h = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    inter = w * h
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def same_boxes(
    want: list[tuple[int, float, npt.NDArray[np.float32]]], got: Detections
) -> tuple[int, int]:
    """(matched, total): boxes of ``want`` (class, confidence, xyxy) found one-to-one in ``got``."""
    free = list(range(len(got)))
    hits = 0
    for cls, conf, box in want:
        hit = next(
            (
                k
                for k in free
                if int(got.class_id[k]) == cls
                and _box_iou(got.xyxy[k], box) >= IOU
                and abs(float(got.confidence[k]) - conf) <= CONF
            ),
            None,
        )
        if hit is not None:
            free.remove(hit)
            hits += 1
    return hits, len(want)


def as_wanted(det: Detections) -> list[tuple[int, float, npt.NDArray[np.float32]]]:
    return [(int(det.class_id[i]), float(det.confidence[i]), det.xyxy[i]) for i in range(len(det))]


def reference_boxes(
    expected: Path, names: list[str]
) -> dict[str, list[tuple[int, float, npt.NDArray[np.float32]]]]:
    """The Ultralytics reference (``expected/yolov8n-coco.json``) per image file name."""
    data = json.loads(expected.read_text())["images"]
    index = {name: i for i, name in enumerate(names)}
    return {
        image: [
            (index[b["cls"]], float(b["conf"]), np.asarray(b["xyxy"], np.float32)) for b in boxes
        ]
        for image, boxes in data.items()
    }


def interleaved(
    first: Callable[[], object], second: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Medians (ms) of ``first`` and ``second``, run alternately in ABBA order."""
    a: list[float] = []
    b: list[float] = []
    for i in range(rounds):
        order = ((first, a), (second, b)) if i % 2 == 0 else ((second, b), (first, a))
        for fn, sink in order:
            start = time.perf_counter()
            fn()
            sink.append((time.perf_counter() - start) * 1e3)
    return statistics.median(a), statistics.median(b)


def provider_figures(
    cpu: Detector,
    other: Detector,
    images: dict[str, Frame],
    photo: Frame,
    rounds: int,
    expected: Path | None,
) -> dict[str, object]:
    """Speed (interleaved, same photo) and box parity of ``other`` against ``cpu``."""
    name = other.provider
    for _ in range(3):
        cpu.detect(photo)
        other.detect(photo)
    cpu_ms, other_ms = interleaved(lambda: cpu.detect(photo), lambda: other.detect(photo), rounds)
    tensor = cpu.input_tensor.copy()
    cpu_raw, other_raw = interleaved(
        lambda: cpu.run_raw(tensor), lambda: other.run_raw(tensor), rounds
    )
    vs_cpu = [0, 0]
    vs_ref = {name: [0, 0], "cpu": [0, 0]}
    refs = reference_boxes(expected, cpu.names) if expected is not None else {}
    for image_name, image in images.items():
        ours, theirs = cpu.detect(image), other.detect(image)
        hits, _ = same_boxes(as_wanted(ours), theirs)
        vs_cpu[0] += hits
        vs_cpu[1] += max(len(ours), len(theirs))  # a box either one adds counts as a miss
        if image_name in refs:
            for key, det in ((name, theirs), ("cpu", ours)):
                h, t = same_boxes(refs[image_name], det)
                vs_ref[key][0] += h
                vs_ref[key][1] += t
    figures: dict[str, object] = {
        "compared_provider": name,
        f"{name}_detect_ms": round(other_ms, 2),
        "cpu_detect_ms": round(cpu_ms, 2),
        f"{name}_speedup": round(cpu_ms / other_ms, 3),
        f"{name}_raw_ms": round(other_raw, 2),
        "cpu_raw_ms": round(cpu_raw, 2),
        f"{name}_raw_speedup": round(cpu_raw / other_raw, 3),
        f"{name}_same_boxes_as_cpu": f"{vs_cpu[0]}/{vs_cpu[1]}",
    }
    if refs:
        figures[f"{name}_reference_boxes"] = f"{vs_ref[name][0]}/{vs_ref[name][1]}"
        figures["cpu_reference_boxes"] = f"{vs_ref['cpu'][0]}/{vs_ref['cpu'][1]}"
    return figures
