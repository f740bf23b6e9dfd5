"""Where a model file comes from: a path, the cache folder, or a verified download.

Resolution order for :func:`resolve_model`:

1. an explicit path (the pipeline's ``model`` when it names a file, or ``--model``);
2. ``AIOS_MODEL_PATH``;
3. ``<cache>/models/<file>`` for a manifest name (cache: ``AIOS_AGENT_CACHE_DIR``, default
   ``~/.cache/aios``);
4. a download of the manifest's URL, with a progress bar, kept only if its sha256 matches.

Offline with no model, the error says where to put one. The manifest is package data (a copy
of the repository's ``models/manifest.json``; a test keeps them identical).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import msgspec
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from aios.agent.errors import ModelError

MODEL_PATH_ENV = "AIOS_MODEL_PATH"
CACHE_DIR_ENV = "AIOS_AGENT_CACHE_DIR"
DOWNLOAD_TIMEOUT_S = 30.0


class ManifestEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One fetchable model. ``sha256`` ``None`` means not pinned: it cannot be auto-installed."""

    name: str
    file: str
    url: str
    sha256: str | None
    input_size: int
    task: str
    classes: int
    license: str
    source_pt_url: str | None = None


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    schema: int
    notes: str
    models: list[ManifestEntry]

    def get(self, name: str) -> ManifestEntry:
        for entry in self.models:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.models)
        raise ModelError(f"unknown model name {name!r}: the manifest has {known}")


def load_manifest() -> Manifest:
    data = resources.files("aios.agent.inference").joinpath("manifest.json").read_bytes()
    try:
        return msgspec.json.decode(data, type=Manifest)
    except msgspec.ValidationError as exc:
        raise ModelError(f"the packaged model manifest is invalid: {exc}") from exc


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """The agent's cache folder: ``AIOS_AGENT_CACHE_DIR`` or ``~/.cache/aios``."""
    environ = os.environ if env is None else env
    value = environ.get(CACHE_DIR_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "aios"


def models_dir(env: Mapping[str, str] | None = None) -> Path:
    return cache_root(env) / "models"


def _looks_like_path(model: str) -> bool:
    return model.endswith(".onnx") or os.sep in model or "/" in model or Path(model).exists()


def resolve_model(
    model: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    download: bool = True,
    progress: bool = True,
) -> Path:
    """The model file to load for ``model`` (a path or a manifest name; default ``yolov8n``)."""
    environ = os.environ if env is None else env
    if model and _looks_like_path(model):
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        return path
    from_env = environ.get(MODEL_PATH_ENV)
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise ModelError(f"{MODEL_PATH_ENV} points at {path}, which is not a file")
        return path
    entry = load_manifest().get(model or "yolov8n")
    cached = models_dir(environ) / entry.file
    if cached.is_file():
        return cached
    if not download:
        raise _missing(entry, cached, "downloads are off")
    try:
        return fetch(entry, models_dir(environ), progress=progress)
    except ModelError as exc:
        raise _missing(entry, cached, str(exc)) from exc


def _missing(entry: ManifestEntry, cached: Path, why: str) -> ModelError:
    return ModelError(
        f"no model {entry.name!r}: {MODEL_PATH_ENV} is not set, {cached} does not exist, and "
        f"it could not be downloaded ({why}). Put an Ultralytics YOLOv8 ONNX export at "
        f"{cached} or set {MODEL_PATH_ENV}=/path/to/model.onnx"
    )


def fetch(
    entry: ManifestEntry,
    dest_dir: Path,
    *,
    sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """Download ``entry`` into ``dest_dir``, check its sha256 (the manifest's, or ``sha256``),
    and move it into place atomically. A file whose hash cannot be checked is never kept."""
    expected = (sha256 or entry.sha256 or "").lower()
    if not expected:
        raise ModelError(
            f"the manifest pins no sha256 for {entry.name!r} ({entry.url}), so a download "
            "cannot be verified: pass the expected sha256 or place the file yourself"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / entry.file
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.file}.", suffix=".part", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(entry.url, timeout=DOWNLOAD_TIMEOUT_S) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            with _progress(progress) as bar:
                task = bar.add_task(entry.file, total=total)
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    digest.update(block)
                    bar.update(task, advance=len(block))
        found = digest.hexdigest()
        if found != expected:
            raise ModelError(f"{entry.url}: sha256 mismatch, expected {expected}, got {found}")
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ModelError(f"download of {entry.url} failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=True,
    )
