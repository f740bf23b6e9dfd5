"""``aios-agent detect IMAGE... --model PATH``: run the detector on still images.

With ``--json`` it prints one JSON object per image, one per line (JSON Lines):
``{"image": PATH, "detections": [{"label", "class_id", "confidence", "xyxy"}]}`` with ``xyxy``
in source-image pixels. Without it, a readable table per image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aios.agent.errors import AgentError, InputError

if TYPE_CHECKING:
    from aios.agent.detections import Detections

# OpenCV and ONNX Runtime are imported inside the command: `--help` stays fast.


def detection_records(detections: Detections, names: list[str]) -> list[dict[str, object]]:
    """JSON-ready records, best confidence first (coordinates rounded to 0.1 px)."""
    return [
        {
            "label": names[int(c)] if 0 <= int(c) < len(names) else str(int(c)),
            "class_id": int(c),
            "confidence": round(float(p), 4),
            "xyxy": [round(float(v), 1) for v in box],
        }
        for box, p, c in zip(
            detections.xyxy, detections.confidence, detections.class_id, strict=True
        )
    ]


def read_image(path: Path) -> object:
    """The image as loaded by OpenCV (unchanged depth and channels, for the detector to check)."""
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can read")
    return image


def register(app: typer.Typer) -> None:
    """Add ``detect`` to ``app``."""

    @app.command()
    def detect(
        images: Annotated[list[Path], typer.Argument(help="Image files.")],
        model: Annotated[
            str | None,
            typer.Option(
                help="ONNX model path or manifest name (default: AIOS_AGENT_MODEL_PATH, "
                "then the cached yolov8n)."
            ),
        ] = None,
        conf: Annotated[float, typer.Option(min=0.0, max=1.0, help="Confidence threshold.")] = 0.25,
        iou: Annotated[float, typer.Option(min=0.0, max=1.0, help="NMS IoU threshold.")] = 0.7,
        provider: Annotated[
            str, typer.Option(help="auto, tensorrt, cuda, openvino or cpu.")
        ] = "auto",
        as_json: Annotated[
            bool, typer.Option("--json", help="One JSON object per image, one per line.")
        ] = False,
    ) -> None:
        """Detect objects in images (boxes in source-image pixels)."""
        from rich.console import Console

        err = Console(stderr=True, soft_wrap=True)
        try:
            from aios.agent.config import config_overrides
            from aios.agent.environment import from_process
            from aios.agent.inference import Detector, resolve_model

            env = from_process()
            given = config_overrides(env).get("model_path")
            found = resolve_model(model, env=env, model_path=Path(given) if given else None)
            trt_cache = env.cache_root / "trt"
            detector = Detector.load(
                found, provider=provider, conf=conf, iou=iou, trt_cache=trt_cache
            )
        except AgentError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        failed = False
        for path in images:
            try:
                detections = detector.detect(read_image(path))  # type: ignore[arg-type]
            except AgentError as exc:
                err.print(f"[red]error:[/red] {exc}")
                failed = True
                continue
            records = detection_records(detections, detector.names)
            if as_json:
                typer.echo(json.dumps({"image": str(path), "detections": records}))
            else:
                _print_table(path, records)
        if failed:
            raise typer.Exit(1)


def _print_table(path: Path, records: list[dict[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{path} ({len(records)} detections)")
    for column in ("label", "class_id", "confidence", "xyxy"):
        table.add_column(column)
    for r in records:
        table.add_row(str(r["label"]), str(r["class_id"]), f"{r['confidence']:.3f}", str(r["xyxy"]))
    Console().print(table)
