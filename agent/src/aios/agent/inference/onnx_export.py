"""Turn a verified Ultralytics ``.pt`` into the ONNX file the agent loads, and guard the cache.

The export runs Ultralytics' own exporter in a subprocess: it is a development tool with a
PyTorch dependency that the agent never imports. The command is, in order:

1. ``AIOS_AGENT_EXPORT_COMMAND`` when set (a command line; ``{python}``, ``{pt}``, ``{onnx}``,
   ``{imgsz}`` and ``{opset}`` are replaced; tests inject a fake exporter this way);
2. this interpreter's Ultralytics, when it is installed here (``YOLO(pt).export(...)``);
3. the ``yolo`` command on ``PATH``.

With none of them, :class:`ModelError` gives the one-line command that installs Ultralytics and
exports. The exporter runs in a scratch folder beside the cache (``{pt}`` is a link to the
verified download; it must write ``{onnx}``, as ``yolo export`` does: same folder, same stem).
Its output is checked to be a YOLOv8 detector (:mod:`~aios.agent.inference.metadata`), then
moved into place atomically and its sha256 written beside it (``<file>.sha256``, the format of
``sha256sum``), which :func:`check_sidecar` uses to detect a corrupted cache file later.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from aios.agent.errors import ModelError
from aios.agent.inference.manifest import ExportRecipe
from aios.agent.inference.metadata import ModelInfo, read_model_info
from aios.agent.inference.providers import file_sha256
from aios.agent.inference.session import (
    ThreadSettings,
    open_session,
    session_metadata,
    session_specs,
)

EXPORT_COMMAND_ENV = "AIOS_AGENT_EXPORT_COMMAND"
EXPORT_TIMEOUT_S = 900.0
SIDECAR_SUFFIX = ".sha256"
_PY_EXPORT = (
    "import sys; from ultralytics import YOLO; "
    "YOLO(sys.argv[1]).export(format='onnx', imgsz=int(sys.argv[2]), opset=int(sys.argv[3]))"
)


def yolo_export_line(pt: Path, recipe: ExportRecipe) -> str:
    """The ``yolo export`` command line for ``pt`` (writes ``pt`` with suffix ``.onnx``)."""
    return (
        f"yolo export model={shlex.quote(str(pt))} format=onnx "
        f"imgsz={recipe.imgsz} opset={recipe.opset}"
    )


def install_and_export_line(pt: Path, recipe: ExportRecipe) -> str:
    """One shell line that installs Ultralytics and writes ``<pt stem>.onnx`` beside ``pt``."""
    return f"pip install {shlex.quote(recipe.requirement)} && {yolo_export_line(pt, recipe)}"


def export_command(recipe: ExportRecipe, pt: Path, onnx: Path, command: str) -> list[str] | None:
    """The exporter's argv for ``pt`` -> ``onnx`` (``command``, ``AIOS_AGENT_EXPORT_COMMAND``,
    else Ultralytics, else ``yolo``), or ``None`` when no exporter is available."""
    template = command.strip()
    if template:
        values = {
            "{python}": sys.executable,
            "{pt}": str(pt),
            "{onnx}": str(onnx),
            "{imgsz}": str(recipe.imgsz),
            "{opset}": str(recipe.opset),
        }
        argv = shlex.split(template)
        for key, value in values.items():
            argv = [arg.replace(key, value) for arg in argv]
        return argv
    if importlib.util.find_spec("ultralytics") is not None:
        return [sys.executable, "-c", _PY_EXPORT, str(pt), str(recipe.imgsz), str(recipe.opset)]
    yolo = shutil.which("yolo")
    if yolo is not None:
        return [yolo, *shlex.split(yolo_export_line(pt, recipe))[1:]]
    return None


def inspect_onnx(path: Path) -> ModelInfo:
    """Open ``path`` on the CPU provider and check it is a YOLOv8 detector."""
    session, _ = open_session(
        path, provider="cpu", threads=ThreadSettings(intra_op=1), cache_root=path.parent
    )
    inputs, outputs = session_specs(session)
    return read_model_info(session_metadata(session), inputs, outputs, str(path))


def write_sidecar(path: Path) -> str:
    """Record ``path``'s sha256 in ``<path>.sha256`` (atomically); return the hash."""
    digest = file_sha256(path)
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    tmp = sidecar.with_name(f".{sidecar.name}.part")
    tmp.write_text(f"{digest}  {path.name}\n")
    os.replace(tmp, sidecar)
    return digest


def check_sidecar(path: Path) -> None:
    """Raise :class:`ModelError` if ``path`` no longer has the sha256 its sidecar recorded.

    A file without a sidecar (placed by hand) is accepted as it is."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    try:
        recorded = sidecar.read_text().split()[0].lower()
    except FileNotFoundError:
        return
    except (OSError, IndexError, UnicodeDecodeError) as exc:
        raise ModelError(f"{sidecar} is unreadable ({exc}): delete it or fetch again") from exc
    found = file_sha256(path)
    if found != recorded:
        raise ModelError(
            f"{path} is corrupt: its sha256 is {found}, but {sidecar.name} recorded {recorded} "
            "when it was installed; delete both files and fetch the model again"
        )


def export_to_onnx(
    pt: Path,
    target: Path,
    recipe: ExportRecipe,
    *,
    command: str = "",
    progress: bool = True,
    console: Console | None = None,
) -> Path:
    """Export verified ``pt`` to ONNX at ``target``: subprocess, metadata check, sidecar.
    With ``progress``, a terminal (stderr, or ``console``) shows a spinner with the time the
    exporter has been running (it prints nothing useful itself, and takes a minute or more)."""
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        staged_pt = work / pt.name
        try:
            os.link(pt, staged_pt)
        except OSError:
            shutil.copyfile(pt, staged_pt)
        produced = work / target.name
        argv = export_command(recipe, staged_pt, produced, command)
        if argv is None:
            raise ModelError(
                f"Ultralytics is not installed, so the verified {pt} cannot be exported to ONNX "
                f"(the agent never imports it). Install it and export with: "
                f"{install_and_export_line(pt, recipe)}   (or set {EXPORT_COMMAND_ENV})"
            )
        console = console or Console(stderr=True)
        if progress and console.is_terminal:
            with console.status(f"exporting {pt.name} to ONNX with Ultralytics") as status:
                _run(argv, work, lambda s: status.update(_exporting(pt, s)))
        else:
            _run(argv, work)
        if not produced.is_file():
            raise ModelError(f"the exporter ({shlex.join(argv)}) did not write {produced.name}")
        try:
            inspect_onnx(produced)
        except ModelError as exc:
            raise ModelError(f"the exported model was refused: {exc}") from exc
        os.replace(produced, target)
        write_sidecar(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _exporting(pt: Path, seconds: float) -> str:
    return f"exporting {pt.name} to ONNX with Ultralytics ({seconds:.0f} s)"


def _run(
    argv: list[str],
    cwd: Path,
    waiting: Callable[[float], None] | None = None,
) -> None:
    """Run the exporter, telling ``waiting`` the seconds elapsed about once a second."""
    started = time.monotonic()
    try:
        with subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            while True:
                try:
                    stdout, stderr = proc.communicate(timeout=1.0)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - started
                    if elapsed > EXPORT_TIMEOUT_S:
                        proc.kill()
                        proc.communicate()
                        raise
                    if waiting is not None:
                        waiting(elapsed)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelError(f"the ONNX exporter could not run ({shlex.join(argv)}): {exc}") from exc
    if proc.returncode != 0:
        tail = " | ".join((stderr or stdout).strip().splitlines()[-5:])
        raise ModelError(
            f"the ONNX exporter failed with exit code {proc.returncode} "
            f"({shlex.join(argv)}): {tail or 'no output'}"
        )
