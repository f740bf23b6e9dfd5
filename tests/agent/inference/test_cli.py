"""``aios-agent detect`` and ``aios-agent model`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aios.agent.cli import app

runner = CliRunner()


def test_detect_json_prints_one_object_per_image(model_path: Path, testdata_dir: Path) -> None:
    images = [testdata_dir / "images" / n for n in ("bus.jpg", "zidane.jpg")]
    result = runner.invoke(app, ["detect", *map(str, images), "--model", str(model_path), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(p) for p in images]
    bus = lines[0]["detections"]
    assert sorted(d["label"] for d in bus) == ["bus", "person", "person", "person", "person"]
    first = bus[0]
    assert set(first) == {"label", "class_id", "confidence", "xyxy"}
    assert first["xyxy"] == [671.8, 375.2, 809.7, 878.9]


def test_detect_reports_unreadable_images(model_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    result = runner.invoke(app, ["detect", str(bad), "--model", str(model_path), "--json"])
    assert result.exit_code == 1
    assert "not an image OpenCV can read" in result.output


def test_detect_with_a_corrupt_model_fails_cleanly(tmp_path: Path, testdata_dir: Path) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"junk")
    result = runner.invoke(
        app, ["detect", str(testdata_dir / "images" / "bus.jpg"), "--model", str(model)]
    )
    assert result.exit_code == 2
    assert "not a loadable ONNX model" in result.output


def test_model_info_json(model_path: Path) -> None:
    result = runner.invoke(app, ["model", "info", str(model_path), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["inputs"][0]["shape"] == [1, 3, 640, 640]
    assert info["outputs"][0]["shape"] == [1, 84, 8400]
    assert info["classes"] == 80
    assert info["names"][0] == "person"
    assert "cpu" in info["providers_available"]


def test_model_fetch_refuses_an_unpinned_download(tmp_path: Path) -> None:
    raw = json.loads((Path(__file__).resolve().parents[3] / "models/manifest.json").read_text())
    raw["models"][0]["source"]["sha256"] = None
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(raw))
    env = {"AIOS_AGENT_CACHE_DIR": str(tmp_path), "AIOS_AGENT_MANIFEST": str(manifest)}
    result = runner.invoke(app, ["model", "fetch", "yolov8n"], env=env)
    assert result.exit_code == 2
    assert "pins no sha256" in result.output
    assert not (tmp_path / "models" / "yolov8n.onnx").exists()
