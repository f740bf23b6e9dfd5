"""``aios-agent model``: inspect and fetch models.

- ``model info PATH``: inputs, outputs, classes, metadata, providers available;
- ``model fetch NAME``: install a manifest model into the cache folder: download its official
  source with a progress bar and a sha256 check, export a PyTorch source to ONNX with
  Ultralytics (a subprocess), check the result and record its sha256 beside it;
- ``model fetch URL --sha256 HEX``: the same for an ONNX file at any URL;
- ``model quantize SRC DST --calibration PATH``: a static int8 copy of a model, calibrated on
  a folder of images or a video (needs ``aios-agent[quantize]``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aios.agent.errors import AgentError

if TYPE_CHECKING:
    from aios.agent.inference.detector import Detector

# ONNX Runtime, numpy and OpenCV are imported inside the commands: `--help` stays fast.

model_app = typer.Typer(
    help="Inspect and fetch models.", no_args_is_help=True, rich_markup_mode=None
)


def model_summary(detector: Detector) -> dict[str, object]:
    from aios.agent.inference.session import available_providers

    """What ``model info`` reports, as a JSON-ready dict."""
    info = detector.info
    return {
        "task": info.task,
        "inputs": [
            {"name": info.input.name, "shape": list(info.input.shape), "type": info.input.type}
        ],
        "outputs": [
            {"name": info.output.name, "shape": list(info.output.shape), "type": info.output.type}
        ],
        "imgsz": list(info.imgsz),
        "stride": info.stride,
        "batch": info.batch if info.batch is not None else "dynamic",
        "classes": len(info.names),
        "names": list(info.names),
        "provider": detector.provider,
        "providers_available": available_providers(),
        "metadata": {k: v for k, v in info.extra.items() if k not in ("names",)},
    }


@model_app.command("info")
def info(
    path: Annotated[Path, typer.Argument(help="ONNX model file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a model's inputs, outputs, classes and the providers available."""
    from rich.console import Console

    try:
        from aios.agent.inference.detector import Detector

        summary = model_summary(Detector.load(path, provider="cpu"))
    except AgentError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(summary))
        return
    out = Console()
    for key, value in summary.items():
        if key == "names":
            names = list(value)  # type: ignore[call-overload]
            value = ", ".join(names[:10]) + (f", ... ({len(names)})" if len(names) > 10 else "")
        out.print(f"[bold]{key}[/bold]: {value}")


@model_app.command("fetch")
def fetch_model(
    name: Annotated[
        str,
        typer.Argument(help="A model name from the manifest (e.g. yolov8n), or an ONNX URL."),
    ],
    sha256: Annotated[
        str | None,
        typer.Option(help="Expected sha256: required for a URL, or when the manifest pins none."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Fetch again even if the model is installed.")
    ] = False,
) -> None:
    """Install a model into the cache folder (AIOS_AGENT_CACHE_DIR/models) and verify it."""
    from rich.console import Console

    from aios.agent.environment import from_process
    from aios.agent.inference.manifest import direct_onnx_entry
    from aios.agent.inference.model_store import fetch, load_manifest

    err = Console(stderr=True, soft_wrap=True)
    try:
        env = from_process()
        if name.startswith(("https://", "http://")):
            if not sha256:
                err.print("[red]error:[/red] a URL needs --sha256 (the file's expected sha256)")
                raise typer.Exit(2)
            entry = direct_onnx_entry(name, sha256)
        else:
            entry = load_manifest(env.manifest).get(name)
        if entry.source.format == "pt":
            err.print(f"fetching {entry.source.url}, then exporting it to ONNX with Ultralytics")
        path = fetch(
            entry, env.models_dir, sha256=sha256, export_command=env.export_command, force=force
        )
    except AgentError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(str(path))


@model_app.command("quantize")
def quantize_model(
    source: Annotated[Path, typer.Argument(help="fp32 YOLOv8 ONNX model.")],
    output: Annotated[Path, typer.Argument(help="Where to write the int8 model.")],
    calibration: Annotated[
        Path, typer.Option(help="A folder of images or a video, like the camera's scenes.")
    ],
    frames: Annotated[int, typer.Option(min=1, help="Calibration frames.")] = 24,
    method: Annotated[
        str, typer.Option(help="Calibration method: minmax, entropy or percentile.")
    ] = "minmax",
) -> None:
    """Quantize a model to static int8 (QDQ) with calibration frames."""
    from rich.console import Console

    from aios.agent.inference.quantize import METHODS, QuantizeOptions, quantize

    err = Console(stderr=True, soft_wrap=True)
    if method not in METHODS:
        err.print(f"[red]error:[/red] --method must be one of {', '.join(METHODS)}")
        raise typer.Exit(2)
    try:
        report = quantize(
            source, output, calibration, QuantizeOptions(frames=frames, method=method)
        )
    except AgentError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    err.print(
        f"calibrated on {report.frames} frames ({report.method}), "
        f"{report.excluded_nodes} head nodes kept in float32, {report.seconds:.1f} s"
    )
    typer.echo(str(report.output))


def register(app: typer.Typer) -> None:
    """Add the ``model`` group to ``app``."""
    app.add_typer(model_app, name="model")
