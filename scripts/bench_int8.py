"""Static int8 (``aios-agent model quantize``) against fp32: speed and box agreement.

    uv run python -m scripts.bench_int8 [--model M] [--calibration DIR] [--runs 3]
        [--config default] [--config name:key=value,...]

Method (that of the README's int8 figures, made repeatable):

1. the sample video of ``scripts/sample_video.py`` (pans and zooms over the test photos, 12 s
   at 15 fps) is made in a temporary folder and 30 evenly spaced frames are taken from it;
2. each configuration is quantized with :func:`aios.agent.inference.quantize.quantize`,
   calibrated on ``--calibration`` (default: the test photos, stretched with pans and zooms
   to the calibration frame count, as the CLI does);
3. per run, ``scripts.bench_detector.int8_figures``: fp32 and int8 ``Detector.detect`` timed
   interleaved on the first frame (medians; ``int8_speedup`` = fp32 / int8), and
   ``int8_agreement``, the share of fp32 boxes on the 30 frames that int8 finds too (same class,
   IoU >= 0.5); runs of the configurations are interleaved, so machine load hits all alike.

Prints one JSON object: per configuration its options, each run's speedup, the median
speedup, and the agreement (deterministic), plus the agreement on the test photos.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
from pathlib import Path

from aios.agent.inference import Detector
from aios.agent.inference.calibration import calibration_frames
from aios.agent.inference.quantize import QuantizeOptions, quantize
from scripts import sample_video
from scripts.bench_detector import SHARED, int8_figures

EVAL_FRAMES = 30


def parse_config(text: str) -> tuple[str, QuantizeOptions]:
    """``name`` or ``name:key=value,key=value`` (fields of :class:`QuantizeOptions`)."""
    name, _, rest = text.partition(":")
    fields = {f.name: f for f in dataclasses.fields(QuantizeOptions)}
    values: dict[str, object] = {}
    for item in filter(None, rest.split(",")):
        key, _, raw = item.partition("=")
        if key not in fields:
            raise SystemExit(f"unknown option {key!r}; known: {', '.join(fields)}")
        default = getattr(QuantizeOptions(), key)
        if isinstance(default, bool):
            values[key] = raw.lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            values[key] = int(raw)
        elif isinstance(default, float):
            values[key] = float(raw)
        else:
            values[key] = raw
    return name, QuantizeOptions(**values)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=SHARED / "models" / "yolov8n-coco.onnx")
    parser.add_argument("--calibration", type=Path, default=SHARED / "testdata" / "images")
    parser.add_argument("--images", type=Path, default=SHARED / "testdata" / "images")
    parser.add_argument("--config", action="append", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20, help="timed detects of each per run")
    args = parser.parse_args()
    configs = [parse_config(c) for c in args.config or ["default"]]

    with tempfile.TemporaryDirectory(prefix="aios-bench-int8-") as tmp:
        video = Path(tmp) / "sample.mp4"
        stills = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".jpg", ".png"})
        sample_video.make_sample_video(video, stills)
        frames = calibration_frames(video, EVAL_FRAMES)
        photos = calibration_frames(args.images, len(stills))
        fp32 = Detector.load(args.model, provider="cpu")
        models: dict[str, Detector] = {}
        for name, options in configs:
            out = Path(tmp) / f"{name}.onnx"
            quantize(args.model, out, args.calibration, options)
            models[name] = Detector.load(out, provider="cpu")
        speedups: dict[str, list[float]] = {name: [] for name in models}
        agreement: dict[str, float] = {}
        for _ in range(args.runs):
            for name, int8 in models.items():
                figures = int8_figures(fp32, int8, frames, args.rounds)
                speedups[name].append(figures["int8_speedup"])
                agreement[name] = figures["int8_agreement"]
        report = {
            "model": args.model.name,
            "eval_frames": len(frames),
            "configs": {
                name: {
                    "options": dataclasses.asdict(options),
                    "speedups": speedups[name],
                    "speedup_median": round(statistics.median(speedups[name]), 3),
                    "agreement_video": agreement[name],
                    "agreement_photos": int8_figures(fp32, models[name], photos, 1)[
                        "int8_agreement"
                    ],
                }
                for name, options in configs
            },
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
