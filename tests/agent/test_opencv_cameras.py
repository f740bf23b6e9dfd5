"""The live OpenCV cameras (USB, RTSP) before and after they are open."""

from __future__ import annotations

import re

import pytest

from aios.agent.errors import SourceError
from aios.agent.sources.opencv_camera import OpenCvCamera
from aios.agent.sources.rtsp import RtspCamera
from aios.agent.sources.usb import UsbCamera


@pytest.mark.parametrize(
    ("camera", "name"),
    [
        (UsbCamera("/dev/video-aios-missing"), "usb /dev/video-aios-missing"),
        (RtspCamera("rtsp://user:secret@127.0.0.1:9/live"), "rtsp://user:***@127.0.0.1:9/live"),
    ],
)
def test_reading_an_unopened_camera_fails_naming_it_and_close_is_idempotent(
    camera: OpenCvCamera, name: str
) -> None:
    assert camera.live
    with pytest.raises(SourceError, match=f"^{re.escape(name)} is not open$"):
        camera.read()
    camera.close()
    camera.close()


def test_a_missing_usb_device_fails_to_open_naming_it() -> None:
    camera = UsbCamera("/dev/video-aios-missing")
    with pytest.raises(SourceError, match="cannot open usb /dev/video-aios-missing"):
        camera.open()
    with pytest.raises(SourceError, match="is not open"):
        camera.read()
