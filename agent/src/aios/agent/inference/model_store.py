"""Where a model file comes from: a path, the cache folder, or a verified fetch.

Resolution order for :func:`resolve_model`:

1. an explicit path (the pipeline's ``model`` when it names a file, or ``--model``);
2. the config's ``model_path`` (``AIOS_AGENT_MODEL_PATH``), given by the caller, for the
   default model (``yolov8n``, or no name) only: a pipeline that names another model gets
   that model, never this file in its place (unless ``model_override``, see
   :func:`pipeline_model`);
3. ``<cache>/models/<file>`` for a manifest name (cache: the environment's ``cache_dir``,
   ``AIOS_AGENT_CACHE_DIR``, default ``~/.cache/aios``), refused when it no longer matches the
   sha256 recorded beside it;
4. :func:`fetch`: download the manifest's official source with a progress bar, keep it only if
   its sha256 matches the pinned one, and for a PyTorch source export it to ONNX with
   Ultralytics in a subprocess (:mod:`~aios.agent.inference.onnx_export`), check that the
   result is a YOLOv8 detector and record its sha256 beside it.

Offline with no model, the error says where to put one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from aios.agent.environment import MODEL_PATH, AgentEnvironment
from aios.agent.errors import ModelError
from aios.agent.inference.download import download_verified
from aios.agent.inference.manifest import (
    DEFAULT_MODEL,
    Manifest,
    ManifestEntry,
    load_manifest,
)
from aios.agent.inference.onnx_export import (
    SIDECAR_SUFFIX,
    check_sidecar,
    export_to_onnx,
    inspect_onnx,
    write_sidecar,
)
from aios.agent.inference.providers import file_sha256

__all__ = ["ManifestEntry", "fetch", "load_manifest", "pipeline_model", "resolve_model"]

log = logging.getLogger(__name__)


def _looks_like_path(model: str) -> bool:
    return model.endswith(".onnx") or os.sep in model or "/" in model or Path(model).exists()


def resolve_model(
    model: str | None = None,
    *,
    env: AgentEnvironment,
    model_path: Path | None = None,
    download: bool = True,
    progress: bool = True,
    manifest: Manifest | None = None,
) -> Path:
    """The model file to load for ``model`` (a path or a manifest name; default ``yolov8n``),
    else ``model_path`` (the config's), else the cache and the manifest of ``env``."""
    if model and _looks_like_path(model):
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    if model_path is not None and (model or DEFAULT_MODEL) == DEFAULT_MODEL:
        path = model_path.expanduser()
        if not path.is_file():
            raise ModelError(f"{MODEL_PATH} points at {path}, which is not a file")
        return path
    entry = (manifest or load_manifest(env.manifest)).get(model or DEFAULT_MODEL)
    cached = env.models_dir / entry.file
    why_not_cached = f"{cached} does not exist"
    if cached.is_file():
        try:
            check_sidecar(cached)
            return cached
        except ModelError as exc:
            why_not_cached = str(exc)
            log.warning("%s", exc)
    if not download:
        raise _missing(entry, cached, why_not_cached, "downloads are off")
    try:
        return fetch(entry, env.models_dir, export_command=env.export_command, progress=progress)
    except ModelError as exc:
        raise _missing(entry, cached, why_not_cached, str(exc)) from exc


def pipeline_model(
    model: str,
    *,
    base_dir: Path,
    model_path: Path | None,
    override: bool = False,
    env: AgentEnvironment,
    download: bool = True,
    progress: bool = False,
) -> Path:
    """The file a pipeline's detect ``model`` loads on this device: the pipeline is the truth.

    A path (relative to ``base_dir``, the config file's folder) must exist; the default model's
    name (``yolov8n``) is the device's ``model_path`` when set; any other name goes to
    :func:`resolve_model` (cache, verified download; an unknown name is refused). Only
    ``override`` (the operator's explicit ``model_override``) makes ``model_path`` replace
    whatever the pipeline names. Raises :class:`ModelError` saying what is missing."""
    if override and model_path is not None:
        return model_path
    if model.endswith(".onnx") or "/" in model:
        candidate = Path(model).expanduser()
        if not candidate.is_absolute():
            candidate = base_dir / candidate
        model = str(candidate)
    elif model == DEFAULT_MODEL and model_path is not None:
        return model_path
    return resolve_model(model, env=env, download=download, progress=progress)


def _missing(entry: ManifestEntry, cached: Path, why_not_cached: str, why: str) -> ModelError:
    return ModelError(
        f"no model {entry.name!r}: {MODEL_PATH} is not set, {why_not_cached}, and it could "
        f"not be fetched ({why}). Put an Ultralytics YOLOv8 ONNX export at {cached} or set "
        f"{MODEL_PATH}=/path/to/model.onnx"
    )


def fetch(
    entry: ManifestEntry,
    dest_dir: Path,
    *,
    sha256: str | None = None,
    export_command: str = "",
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Install ``entry`` as ``dest_dir/<file>`` from its official source; return its path.

    The download is kept only if its sha256 is the manifest's (or ``sha256``, for a source the
    manifest does not pin). A ``pt`` source is exported to ONNX (see
    :func:`~aios.agent.inference.onnx_export.export_to_onnx`; ``export_command`` is
    ``AIOS_AGENT_EXPORT_COMMAND``); an ``onnx`` source is checked
    the same way. Either way the ONNX file's sha256 is recorded in ``<file>.sha256``. An
    installed file whose sidecar still matches is kept unless ``force``."""
    expected = (sha256 or entry.source.sha256 or "").lower()
    if not expected:
        raise ModelError(
            f"the manifest pins no sha256 for {entry.name!r} ({entry.source.url}), so a "
            "download cannot be verified: pass the expected sha256 or place the file yourself"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / entry.file
    if not force and _installed(target):
        return target
    if entry.source.format == "onnx":
        download_verified(entry.source.url, target, expected, progress=progress)
        try:
            inspect_onnx(target)
        except ModelError:
            target.unlink(missing_ok=True)
            raise
        write_sidecar(target)
        return target
    assert entry.export is not None  # a pt source without a recipe fails manifest decoding
    source = dest_dir / entry.source_file
    if force or not source.is_file() or file_sha256(source) != expected:
        download_verified(entry.source.url, source, expected, progress=progress)
    return export_to_onnx(source, target, entry.export, command=export_command, progress=progress)


def _installed(target: Path) -> bool:
    """``target`` is installed by a fetch (sidecar present) and still matches its sidecar."""
    if not target.with_name(target.name + SIDECAR_SUFFIX).is_file() or not target.is_file():
        return False
    try:
        check_sidecar(target)
    except ModelError:
        return False
    return True
