"""The model manifest: which models the agent can fetch by name, from where, and how.

Each entry names the official source of a model (a URL and its pinned sha256) and, when that
source is not ONNX (Ultralytics publishes YOLOv8 as PyTorch ``.pt`` release assets), the recipe
that turns it into the ONNX file the agent loads: Ultralytics' exporter, run as a separate
development tool (see :mod:`aios.agent.inference.onnx_export`), never imported by the agent.

The manifest is package data, a copy of the repository's ``models/manifest.json`` (a test keeps
them identical). ``AIOS_AGENT_MANIFEST`` names another manifest file (tests, private mirrors):
the environment's ``manifest`` (:mod:`aios.agent.environment`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import msgspec

from aios.agent.errors import ModelError

MANIFEST_ENV = "AIOS_AGENT_MANIFEST"
DEFAULT_MODEL = "yolov8n"


class ModelSource(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where a model is published. ``sha256`` ``None``: not pinned, so it is never installed
    without an expected hash given by the user. ``format``: ``pt`` (needs an export to ONNX)
    or ``onnx`` (used as downloaded)."""

    url: str
    sha256: str | None
    format: Literal["pt", "onnx"]


class ExportRecipe(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a ``pt`` source becomes ONNX: ``yolo export format=onnx imgsz=.. opset=..``.

    ``requirement`` is what to install to run the exporter (a pip requirement)."""

    requirement: str
    imgsz: int
    opset: int


class ManifestEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One fetchable model; ``file`` is the ONNX file's name in the cache folder."""

    name: str
    file: str
    input_size: int
    task: str
    classes: int
    license: str
    source: ModelSource
    export: ExportRecipe | None = None

    def __post_init__(self) -> None:
        if not self.file.endswith(".onnx") or "/" in self.file:
            raise ValueError(f"model {self.name!r}: file must be a plain *.onnx name")
        if self.source.format == "pt" and self.export is None:
            raise ValueError(f"model {self.name!r}: a pt source needs an export recipe")

    @property
    def source_file(self) -> str:
        """The downloaded file's name in the cache (``yolov8n.pt`` beside ``yolov8n.onnx``)."""
        stem = self.file[: -len(".onnx")]
        return f"{stem}.{self.source.format}"


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    schema: int
    notes: str
    models: list[ManifestEntry]

    def get(self, name: str) -> ManifestEntry:
        for entry in self.models:
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.models)
        raise ModelError(f"unknown model name {name!r}: the manifest has {known}")


def decode_manifest(data: bytes, source: str) -> Manifest:
    try:
        return msgspec.json.decode(data, type=Manifest)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ModelError(f"the model manifest {source} is invalid: {exc}") from exc


def load_manifest(path: Path | None = None) -> Manifest:
    """The packaged manifest, or the file at ``path`` (``AIOS_AGENT_MANIFEST``)."""
    if path is not None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{MANIFEST_ENV}={path} cannot be read: {exc}") from exc
        return decode_manifest(data, str(path))
    packaged = resources.files("aios.agent.inference").joinpath("manifest.json").read_bytes()
    return decode_manifest(packaged, "(packaged manifest.json)")


def direct_onnx_entry(url: str, sha256: str) -> ManifestEntry:
    """An ad-hoc entry for ``model fetch URL --sha256 HEX`` (an ONNX file at any URL)."""
    file = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    if not file.endswith(".onnx"):
        raise ModelError(f"{url}: a direct URL must name an .onnx file")
    return ManifestEntry(
        name=file[: -len(".onnx")],
        file=file,
        input_size=640,
        task="detect",
        classes=0,
        license="unknown (direct URL)",
        source=ModelSource(url=url, sha256=sha256, format="onnx"),
    )
