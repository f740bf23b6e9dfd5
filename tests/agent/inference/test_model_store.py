"""Model resolution order, verified download, and the manifest."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aios.agent.errors import ModelError
from aios.agent.inference.model_store import (
    ManifestEntry,
    fetch,
    load_manifest,
    resolve_model,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    explicit = tmp_path / "explicit.onnx"
    from_env = tmp_path / "env.onnx"
    cache = tmp_path / "cache"
    cached = cache / "models" / "yolov8n.onnx"
    cached.parent.mkdir(parents=True)
    for path in (explicit, from_env, cached):
        path.write_bytes(path.name.encode())
    return {"explicit": explicit, "env": from_env, "cache": cache, "cached": cached}


@pytest.mark.parametrize(
    ("model", "use_env", "expected"),
    [
        ("explicit", True, "explicit"),  # an explicit path wins over AIOS_MODEL_PATH
        (None, True, "env"),
        ("yolov8n", True, "env"),  # a name: AIOS_MODEL_PATH still comes first
        ("yolov8n", False, "cached"),
        (None, False, "cached"),  # default name yolov8n
    ],
)
def test_resolution_order(
    layout: dict[str, Path], model: str | None, use_env: bool, expected: str
) -> None:
    env = {"AIOS_AGENT_CACHE_DIR": str(layout["cache"])}
    if use_env:
        env["AIOS_MODEL_PATH"] = str(layout["env"])
    arg = str(layout["explicit"]) if model == "explicit" else model
    assert resolve_model(arg, env=env, download=False) == layout[expected]


@pytest.mark.parametrize(
    ("model", "env", "message"),
    [
        ("/nowhere/m.onnx", {}, "model file not found: /nowhere/m.onnx"),
        (None, {"AIOS_MODEL_PATH": "/nowhere/m.onnx"}, "AIOS_MODEL_PATH points at"),
        ("yolov9z", {}, "unknown model name 'yolov9z'"),
    ],
)
def test_resolution_errors(model: str | None, env: dict[str, str], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        resolve_model(model, env=env, download=False)


def test_offline_without_a_model_says_where_to_put_one(tmp_path: Path) -> None:
    env = {"AIOS_AGENT_CACHE_DIR": str(tmp_path)}
    with pytest.raises(ModelError) as info:
        resolve_model("yolov8n", env=env, download=False)
    text = str(info.value)
    assert str(tmp_path / "models" / "yolov8n.onnx") in text
    assert "AIOS_MODEL_PATH" in text


def _entry(url: str, sha256: str | None) -> ManifestEntry:
    return ManifestEntry(
        name="tiny",
        file="tiny.onnx",
        url=url,
        sha256=sha256,
        input_size=640,
        task="detect",
        classes=80,
        license="test",
    )


@pytest.mark.parametrize(
    ("sha", "kept", "message"),
    [
        ("good", True, None),
        ("0" * 64, False, "sha256 mismatch"),
        (None, False, "pins no sha256"),
    ],
)
def test_fetch_keeps_only_verified_files(
    tmp_path: Path, sha: str | None, kept: bool, message: str | None
) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"weights" * 1000)
    good = hashlib.sha256(source.read_bytes()).hexdigest()
    entry = _entry(source.as_uri(), good if sha == "good" else sha)
    dest = tmp_path / "models"
    if message is None:
        assert fetch(entry, dest, progress=False).read_bytes() == source.read_bytes()
    else:
        with pytest.raises(ModelError, match=message):
            fetch(entry, dest, progress=False)
    assert (dest / "tiny.onnx").exists() is kept
    assert not list(dest.glob("*.part")) if dest.exists() else True


def test_fetch_reports_unreachable_urls(tmp_path: Path) -> None:
    entry = _entry((tmp_path / "missing.bin").as_uri(), "0" * 64)
    with pytest.raises(ModelError, match=r"download of .* failed"):
        fetch(entry, tmp_path / "models", progress=False)


def test_packaged_manifest_is_the_repository_manifest() -> None:
    packaged = ROOT / "agent" / "src" / "aios" / "agent" / "inference" / "manifest.json"
    assert packaged.read_bytes() == (ROOT / "models" / "manifest.json").read_bytes()
    entry = load_manifest().get("yolov8n")
    assert entry.url.startswith("https://")
    assert entry.input_size == 640
