"""The detector on the real model: reference boxes, bad frames, refused models."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from aios.agent.detections import Detections
from aios.agent.errors import ConfigError, InputError, ModelError
from aios.agent.inference import Detector
from aios.shared.pipeline.nodes import DetectParams

IMAGES = ["bus.jpg", "zidane.jpg", "grace_hopper.jpg", "astronaut.png"]


@pytest.fixture(scope="module")
def detector(model_path: Path) -> Detector:
    return Detector.load(model_path, provider="cpu", conf=0.25, iou=0.7)


@pytest.fixture(scope="module")
def expected(testdata_dir: Path) -> dict[str, list[dict[str, object]]]:
    data: dict[str, list[dict[str, object]]] = json.loads(
        (testdata_dir / "expected" / "yolov8n-coco.json").read_text()
    )["images"]
    return data


def _iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _image(testdata_dir: Path, name: str) -> np.ndarray:
    image = cv2.imread(str(testdata_dir / "images" / name))
    assert image is not None
    return image


@pytest.mark.parametrize("name", IMAGES)
def test_matches_ultralytics_reference(
    detector: Detector, expected: dict[str, list[dict[str, object]]], testdata_dir: Path, name: str
) -> None:
    det = detector.detect(_image(testdata_dir, name))
    ref = expected[name]
    assert len(det) == len(ref)
    unmatched = list(range(len(det)))
    for want in ref:
        box = [float(v) for v in want["xyxy"]]  # type: ignore[attr-defined]
        hit = next(
            (
                k
                for k in unmatched
                if detector.names[det.class_id[k]] == want["cls"]
                and _iou(det.xyxy[k].tolist(), box) >= 0.9
                and abs(float(det.confidence[k]) - float(want["conf"])) <= 0.02  # type: ignore[arg-type]
            ),
            None,
        )
        assert hit is not None, f"{name}: no match for {want}"
        unmatched.remove(hit)


def test_reports_model_facts(detector: Detector) -> None:
    assert detector.provider == "cpu"
    assert len(detector.names) == 80
    assert detector.names[:2] == ["person", "bicycle"]
    assert detector.input_tensor.shape == (1, 3, 640, 640)


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (np.zeros((0, 0, 3), np.uint8), "empty frame"),
        (np.zeros((64, 64, 3), np.float32), "expected uint8"),
        (np.zeros((64, 64, 2), np.uint8), "expected an HxWx3"),
        (np.zeros((1, 64, 64, 3), np.uint8), "expected an HxWx3"),
    ],
)
def test_bad_frames_raise_input_error(detector: Detector, frame: np.ndarray, error: str) -> None:
    with pytest.raises(InputError, match=error):
        detector.detect(frame)


@pytest.mark.parametrize(
    ("convert", "persons"),
    [
        (lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), (1, 1)),  # grayscale still finds her
        (lambda im: im.astype(np.uint16) * 257, (1, 1)),  # 16-bit
        (lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2BGRA), (1, 1)),
        (lambda im: im[:1, :1].copy(), (0, 0)),  # one pixel: a defined, empty result
        (lambda im: np.ascontiguousarray(im[::2, ::2]), (1, 2)),  # half size
    ],
)
def test_converted_frames_give_defined_results(
    detector: Detector, testdata_dir: Path, convert: object, persons: tuple[int, int]
) -> None:
    frame = convert(_image(testdata_dir, "grace_hopper.jpg"))  # type: ignore[operator]
    det = detector.detect(frame)
    assert isinstance(det, Detections)
    assert persons[0] <= int((det.class_id == 0).sum()) <= persons[1]
    h, w = frame.shape[:2]
    assert np.all(det.xyxy[:, [0, 2]] <= w)
    assert np.all(det.xyxy[:, [1, 3]] <= h)


def test_class_filter_and_batch(model_path: Path, testdata_dir: Path) -> None:
    persons = Detector.load(model_path, provider="cpu", classes=["person"])
    bus, zidane = _image(testdata_dir, "bus.jpg"), _image(testdata_dir, "zidane.jpg")
    batch = persons.detect_batch([bus, zidane])
    assert [len(d) for d in batch] == [4, 2]
    assert all(set(d.class_id.tolist()) == {0} for d in batch)
    np.testing.assert_array_equal(batch[1].xyxy, persons.detect(zidane).xyxy)


def test_from_params(model_path: Path, testdata_dir: Path) -> None:
    params = DetectParams(conf=0.5, classes=["bus"], max_det=5, provider="cpu")
    det = Detector.from_params(params, model_path).detect(_image(testdata_dir, "bus.jpg"))
    assert det.class_id.tolist() == [5]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"classes": ["unicorn"]}, "'unicorn' is not a class of this model"),
        ({"classes": [80]}, "80 is not a class"),
        ({"conf": 1.5}, "conf and iou must be in"),
        ({"max_det": 0}, "max_det must be at least 1"),
        ({"provider": "tpu"}, "provider: expected auto or one of"),
        ({"input_size": 320}, "fixed at 640x640"),
    ],
)
def test_bad_settings(model_path: Path, kwargs: dict[str, object], error: str) -> None:
    with pytest.raises((ConfigError, ModelError), match=error):
        Detector.load(model_path, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (lambda real: real[: len(real) // 3], "not a loadable ONNX model"),  # truncated
        (lambda real: b"this is not a model", "not a loadable ONNX model"),
        (lambda real: b"", "not a loadable ONNX model"),
    ],
)
def test_corrupt_models_are_refused(
    model_path: Path, tmp_path: Path, content: object, error: str
) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content(model_path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(ModelError, match=error):
        Detector.load(bad, provider="cpu")


def test_missing_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model not found"):
        Detector.load(tmp_path / "nope.onnx")


def test_int8_model_agrees_on_people(int8_model_path: Path, testdata_dir: Path) -> None:
    det = Detector.load(int8_model_path, provider="cpu").detect(_image(testdata_dir, "bus.jpg"))
    assert int((det.class_id == 0).sum()) >= 3
