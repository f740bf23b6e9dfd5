"""Model resolution order, verified download, and the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from aios.agent.environment import AgentEnvironment
from aios.agent.errors import ModelError
from aios.agent.inference.model_store import load_manifest, resolve_model

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
        ("explicit", True, "explicit"),  # an explicit path wins over the config's model_path
        (None, True, "env"),
        ("yolov8n", True, "env"),  # a name: AIOS_AGENT_MODEL_PATH still comes first
        ("yolov8n", False, "cached"),
        (None, False, "cached"),  # default name yolov8n
    ],
)
def test_resolution_order(
    layout: dict[str, Path], model: str | None, use_env: bool, expected: str
) -> None:
    env = AgentEnvironment(cache_dir=layout["cache"])
    given = layout["env"] if use_env else None
    arg = str(layout["explicit"]) if model == "explicit" else model
    assert resolve_model(arg, env=env, model_path=given, download=False) == layout[expected]


@pytest.mark.parametrize(
    ("model", "model_path", "message"),
    [
        ("/nowhere/m.onnx", None, "model file not found: /nowhere/m.onnx"),
        (None, Path("/nowhere/m.onnx"), "AIOS_AGENT_MODEL_PATH points at"),
        ("yolov9z", None, "unknown model name 'yolov9z'"),
        # the config's model_path stands for the default model only, never for another name
        ("yolov9z", Path(__file__), "unknown model name 'yolov9z'"),
    ],
)
def test_resolution_errors(model: str | None, model_path: Path | None, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        resolve_model(model, env=AgentEnvironment(), model_path=model_path, download=False)


def test_offline_without_a_model_says_where_to_put_one(tmp_path: Path) -> None:
    env = AgentEnvironment(cache_dir=tmp_path)
    with pytest.raises(ModelError) as info:
        resolve_model("yolov8n", env=env, download=False)
    text = str(info.value)
    assert str(tmp_path / "models" / "yolov8n.onnx") in text
    assert "AIOS_AGENT_MODEL_PATH" in text


def test_packaged_manifest_is_the_repository_manifest() -> None:
    packaged = ROOT / "agent" / "src" / "aios" / "agent" / "inference" / "manifest.json"
    assert packaged.read_bytes() == (ROOT / "models" / "manifest.json").read_bytes()
    entry = load_manifest().get("yolov8n")
    assert entry.source.url == (
        "https://github.com/ultralytics/assets/releases/download/v8.2.0/yolov8n.pt"
    )
    assert entry.source.format == "pt"
    assert entry.source.sha256 == (
        "f59b3d833e2ff32e194b5bb8e08d211dc7c5bdf144b90d2c8412c47ccfc83b36"
    )
    assert entry.export is not None
    assert (entry.export.imgsz, entry.input_size, entry.file) == (640, 640, "yolov8n.onnx")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"export": None}, "a pt source needs an export recipe"),
        ({"file": "yolov8n.pt"}, "file must be a plain"),
        ({"surprise": 1}, "unknown field"),
    ],
)
def test_invalid_manifests_are_refused(
    tmp_path: Path, patch: dict[str, object], message: str
) -> None:
    raw = json.loads((ROOT / "models" / "manifest.json").read_text())
    raw["models"][0].update(patch)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ModelError, match=message):
        load_manifest(path)


@pytest.mark.parametrize(
    ("sidecar", "ok"),
    [
        ("good", True),
        ("0" * 64, False),  # the file changed since it was installed
        (None, True),  # placed by hand: accepted as is
    ],
)
def test_cached_model_is_checked_against_its_sidecar(
    layout: dict[str, Path], sidecar: str | None, ok: bool
) -> None:
    cached = layout["cached"]
    if sidecar is not None:
        digest = hashlib.sha256(cached.read_bytes()).hexdigest() if sidecar == "good" else sidecar
        cached.with_name("yolov8n.onnx.sha256").write_text(f"{digest}  yolov8n.onnx\n")
    env = AgentEnvironment(cache_dir=layout["cache"])
    if ok:
        assert resolve_model("yolov8n", env=env, download=False) == cached
    else:
        with pytest.raises(ModelError, match=r"is corrupt: its sha256 is [0-9a-f]{64}"):
            resolve_model("yolov8n", env=env, download=False)
