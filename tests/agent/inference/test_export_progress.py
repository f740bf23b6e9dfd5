"""Exporting a ``.pt`` to ONNX takes a minute or more and the exporter prints nothing useful:
a terminal shows a spinner with the time it has been running; a pipe shows nothing."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

from rich.console import Console

from aios.agent.inference.manifest import ExportRecipe
from aios.agent.inference.onnx_export import export_to_onnx

RECIPE = ExportRecipe(requirement="ultralytics", imgsz=640, opset=17)


def _slow_exporter(tmp_path: Path, produce: Path, seconds: float) -> str:
    script = tmp_path / "slow_exporter.py"
    script.write_text(
        "import shutil, sys, time\n"
        f"time.sleep({seconds})\n"
        "shutil.copyfile(sys.argv[2], sys.argv[1])\n"
    )
    return "{python} " + shlex.join([str(script), "{onnx}", str(produce)])


def _pt(tmp_path: Path) -> tuple[Path, Path]:
    pt = tmp_path / "tiny.pt"
    pt.write_bytes(b"weights")
    target = tmp_path / "models" / "tiny.onnx"
    target.parent.mkdir()
    return pt, target


def test_a_terminal_sees_the_export_running(tmp_path: Path, model_path: Path) -> None:
    pt, target = _pt(tmp_path)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    command = _slow_exporter(tmp_path, model_path, 2.5)
    assert export_to_onnx(pt, target, RECIPE, command=command, console=console) == target
    assert target.read_bytes() == model_path.read_bytes()
    text = out.getvalue()
    assert "exporting tiny.pt to ONNX with Ultralytics" in text
    assert "(2 s)" in text  # the elapsed time, updated while it ran


def test_no_progress_without_a_terminal_or_when_asked(tmp_path: Path, model_path: Path) -> None:
    pt, target = _pt(tmp_path)
    command = _slow_exporter(tmp_path, model_path, 0)
    piped = io.StringIO()
    export_to_onnx(pt, target, RECIPE, command=command, console=Console(file=piped))
    assert piped.getvalue() == ""
    quiet = io.StringIO()
    terminal = Console(file=quiet, force_terminal=True)
    export_to_onnx(pt, target, RECIPE, command=command, console=terminal, progress=False)
    assert quiet.getvalue() == ""
