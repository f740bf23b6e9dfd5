"""Model refusal: anything but a YOLOv8 detection export is refused with a clear reason."""

from __future__ import annotations

import pytest

from aios.agent.errors import ModelError
from aios.agent.inference.metadata import TensorSpec, read_model_info

NAMES = "{0: 'person', 1: 'car'}"
META = {"names": NAMES, "task": "detect", "stride": "32", "imgsz": "[640, 640]"}
IMAGES = TensorSpec("images", (1, 3, 640, 640), "tensor(float)")
HEAD = TensorSpec("output0", (1, 6, 8400), "tensor(float)")


@pytest.mark.parametrize(
    ("meta", "inputs", "outputs", "message"),
    [
        ({}, [IMAGES], [HEAD], "missing names, task .found: no metadata at all"),
        ({"task": "detect"}, [IMAGES], [HEAD], "missing names"),
        (
            {**META, "task": "segment"},
            [IMAGES],
            [HEAD],
            "expected task 'detect', found task 'segment'",
        ),
        ({**META, "end2end": "True"}, [IMAGES], [HEAD], "found an end-to-end export"),
        ({**META, "names": "not a dict"}, [IMAGES], [HEAD], "metadata 'names' is not readable"),
        ({**META, "names": "{1: 'a'}"}, [IMAGES], [HEAD], "ids are not 0..0"),
        ({**META, "imgsz": "[640]"}, [IMAGES], [HEAD], "expected metadata 'imgsz'"),
        (META, [IMAGES, IMAGES], [HEAD], "expected 1 input"),
        (
            META,
            [TensorSpec("x", (1, 1, 64, 64), "tensor(float)")],
            [HEAD],
            r"found \(1, 1, 64, 64\)",
        ),
        (META, [TensorSpec("x", (1, 3, 64, 64), "tensor(uint8)")], [HEAD], "found tensor.uint8."),
        (META, [IMAGES], [HEAD, HEAD], "expected 1 output .detection head., found 2"),
        (
            META,
            [IMAGES],
            [TensorSpec("o", (1, 85, 8400), "tensor(float)")],
            r"\(b, 6, n\), found \(1, 85, 8400\)",
        ),
        (META, [IMAGES], [TensorSpec("o", (1, 1000), "tensor(float)")], "found \\(1, 1000\\)"),
        (META, [IMAGES], [], "has no output"),
    ],
)
def test_refused(
    meta: dict[str, str], inputs: list[TensorSpec], outputs: list[TensorSpec], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        read_model_info(meta, inputs, outputs, "m.onnx")


@pytest.mark.parametrize(
    ("inp", "out", "input_size", "imgsz", "batch", "transposed"),
    [
        (IMAGES, HEAD, None, (640, 640), 1, False),
        (
            TensorSpec("i", (None, 3, None, None), "tensor(float16)"),
            TensorSpec("o", (None, 6, None), "tensor(float16)"),
            None,
            (640, 640),
            None,
            False,
        ),
        (
            TensorSpec("i", (None, 3, None, None), "tensor(float)"),
            TensorSpec("o", (None, 6, None), "tensor(float)"),
            320,
            (320, 320),
            None,
            False,
        ),
        (
            TensorSpec("i", (4, 3, 384, 640), "tensor(float)"),
            TensorSpec("o", (4, 5040, 6), "tensor(float)"),
            None,
            (384, 640),
            4,
            True,
        ),
    ],
)
def test_accepted(
    inp: TensorSpec,
    out: TensorSpec,
    input_size: int | None,
    imgsz: tuple[int, int],
    batch: int | None,
    transposed: bool,
) -> None:
    info = read_model_info(META, [inp], [out], "m.onnx", input_size)
    assert info.names == ("person", "car")
    assert (info.imgsz, info.batch, info.transposed) == (imgsz, batch, transposed)


@pytest.mark.parametrize(
    ("inp", "input_size", "message"),
    [
        (IMAGES, 320, "fixed at 640x640"),
        (TensorSpec("i", (1, 3, None, None), "tensor(float)"), 330, "not a multiple of 32"),
    ],
)
def test_input_size_conflicts(inp: TensorSpec, input_size: int, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        read_model_info(META, [inp], [HEAD], "m.onnx", input_size)
