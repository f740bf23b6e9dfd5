"""``aios-agent model quantize``: a static int8 model the detector loads and that finds the same
people as the float32 one; bad calibration input is refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from aios.agent.cli import app
from aios.agent.errors import ConfigError
from aios.agent.inference import Detector
from aios.agent.inference.calibration import calibration_frames

runner = CliRunner()
PERSON = 0


@pytest.fixture(scope="module")
def int8_path(
    model_path: Path, testdata_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("quantize") / "yolov8n-int8.onnx"
    args = ["model", "quantize", str(model_path), str(out)]
    args += ["--calibration", str(testdata_dir / "images"), "--frames", "6"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def test_quantized_model_keeps_the_metadata(model_path: Path, int8_path: Path) -> None:
    fp32 = Detector.load(model_path, provider="cpu").info
    int8 = Detector.load(int8_path, provider="cpu").info
    assert (int8.names, int8.imgsz, int8.stride, int8.task) == (
        fp32.names,
        fp32.imgsz,
        fp32.stride,
        fp32.task,
    )
    assert int8.extra["quantization"] == "static int8 QDQ, minmax, 6 frames"
    # int8 weights: the file shrinks to about a quarter.
    assert int8_path.stat().st_size < model_path.stat().st_size / 2


def test_quantized_model_finds_the_people_on_the_bus(
    model_path: Path, int8_path: Path, testdata_dir: Path
) -> None:
    image = cv2.imread(str(testdata_dir / "images" / "bus.jpg"))
    assert image is not None
    ref = Detector.load(model_path, provider="cpu").detect(image)
    got = Detector.load(int8_path, provider="cpu").detect(image)
    people = ref.xyxy[ref.class_id == PERSON]
    found = got.xyxy[got.class_id == PERSON]
    assert len(people) == 4
    for box in people:
        assert max((_iou(box, other) for other in found), default=0.0) >= 0.5, box


def test_calibration_folder_is_stretched_with_pans_and_zooms(testdata_dir: Path) -> None:
    frames = calibration_frames(testdata_dir / "images", 10)
    assert len(frames) == 10
    originals = {f.shape for f in frames[:4]}
    assert all(f.shape not in originals for f in frames[4:])  # crops, not copies


def _bad_input(folder: Path, kind: str) -> Path:
    if kind == "missing":
        return folder / "missing"
    if kind == "not-a-video":
        (folder / "clip.mp4").write_bytes(b"junk")
        return folder / "clip.mp4"
    if kind == "bad-image":
        (folder / "a.jpg").write_bytes(b"junk")
    return folder


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("empty-folder", "no images"),
        ("missing", "neither a folder of images nor a video file"),
        ("not-a-video", "cannot open"),
        ("bad-image", "cannot read image"),
    ],
)
def test_bad_calibration_input_is_refused(tmp_path: Path, kind: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        calibration_frames(_bad_input(tmp_path, kind), 4)


def test_cli_reports_bad_calibration_input(model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "int8.onnx"
    args = ["model", "quantize", str(model_path), str(out), "--calibration", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "calibration: no images" in result.output
    assert not out.exists()


@pytest.mark.parametrize(("depth", "convs"), [(0, set()), (1, {1}), (2, {0, 1})])
def test_blocks_before_the_head_are_the_branches_conv_silu_blocks(
    model_path: Path, depth: int, convs: set[int]
) -> None:
    """``fp32_head_blocks``: the Conv+SiLU blocks feeding each of the 6 head convolutions
    (``cv2.L.1``, then ``cv2.L.0``; the same for ``cv3``), Conv, Sigmoid and Mul each."""
    import onnx

    from aios.agent.inference.quantize import blocks_before, head_nodes

    graph = onnx.load(str(model_path)).graph
    _, head = head_nodes(graph)
    names = blocks_before(graph, head, depth)
    assert len(names) == 6 * 3 * depth
    expected = {
        f"/model.22/{b}.{level}/{b}.{level}.{k}/conv/Conv"
        for b in ("cv2", "cv3")
        for level in range(3)
        for k in convs
    }
    assert {n for n in names if n.endswith("/Conv")} == expected


def test_sppf_nodes_are_the_pooling_block(model_path: Path) -> None:
    """``fp32_sppf``: YOLOv8's SPPF block (``/model.9/``): its two convs with their SiLU, the
    three chained max-pools and the concat that joins them, found by structure."""
    import onnx

    from aios.agent.inference.quantize import sppf_nodes

    graph = onnx.load(str(model_path)).graph
    names = set(sppf_nodes(graph))
    expected = {n.name for n in graph.node if n.name.startswith("/model.9/")}
    assert names == expected
    assert len(names) == 10


def test_the_sppf_block_stays_float32(int8_path: Path) -> None:
    """The quantized model has no quantize/dequantize pair inside the SPPF block: the inputs
    of its max-pools and concat come straight from float nodes."""
    import onnx

    graph = onnx.load(str(int8_path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    pools = [n for n in graph.node if n.op_type == "MaxPool"]
    assert len(pools) == 3
    for pool in pools:
        assert producer[pool.input[0]].op_type != "DequantizeLinear"
