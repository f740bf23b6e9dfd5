"""Calibration frames for static int8 quantization, from a folder of images or a video.

A folder of stills is stretched to the number of frames asked for with deterministic pans and
zooms (crops of 55-100% of each image, as a camera would frame the same scene), because the
activation ranges of a handful of photographs are a poor sample of a live stream. A video is
sampled at evenly spaced frames. Every frame is letterboxed by the detector's own
:class:`~aios.agent.inference.letterbox.Letterboxer`, so calibration sees exactly the tensors
inference will see.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from aios.agent.errors import ConfigError, InputError
from aios.agent.inference.letterbox import Letterboxer, as_bgr_uint8

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

Frame = npt.NDArray[np.uint8]


def _read_image(path: Path) -> Frame:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ConfigError(f"calibration: cannot read image {path}")
    return np.asarray(image, np.uint8)


def _crop(image: Frame, zoom: float, fx: float, fy: float) -> Frame:
    """A ``zoom`` share of ``image`` (by side) whose corner sits at ``fx``, ``fy`` of the slack."""
    h, w = image.shape[:2]
    ch, cw = max(1, round(h * zoom)), max(1, round(w * zoom))
    y0, x0 = round((h - ch) * fy), round((w - cw) * fx)
    return np.ascontiguousarray(image[y0 : y0 + ch, x0 : x0 + cw])


def image_frames(folder: Path, count: int) -> list[Frame]:
    """``count`` frames from the images in ``folder``: the images, then pans and zooms."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ConfigError(
            f"calibration: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {folder}"
        )
    images = [_read_image(p) for p in paths]
    frames = images[:count]
    rng = np.random.default_rng(0)
    while len(frames) < count:
        image = images[len(frames) % len(images)]
        zoom = float(rng.uniform(0.55, 1.0))
        fx, fy = (float(v) for v in rng.uniform(0.0, 1.0, 2))
        frames.append(_crop(image, zoom, fx, fy))
    return frames


def video_frames(path: Path, count: int) -> list[Frame]:
    """``count`` evenly spaced frames of the video at ``path`` (all of them if it is shorter)."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ConfigError(f"calibration: cannot open {path} as a video (or an image folder)")
        frames: list[Frame] = []
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            frames.append(np.asarray(frame, np.uint8))
    finally:
        capture.release()
    if not frames:
        raise ConfigError(f"calibration: the video {path} has no readable frames")
    if len(frames) <= count:
        return frames
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in picks]


def calibration_frames(path: Path, count: int) -> list[Frame]:
    """Frames from a folder of images, one image file, or a video."""
    if count < 1:
        raise ConfigError(f"calibration: --frames must be at least 1, got {count}")
    if path.is_dir():
        return image_frames(path, count)
    if not path.is_file():
        raise ConfigError(f"calibration: {path} is neither a folder of images nor a video file")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        image = _read_image(path)
        rng = np.random.default_rng(0)
        crops = [
            _crop(image, float(rng.uniform(0.55, 1.0)), *(float(v) for v in rng.uniform(0, 1, 2)))
            for _ in range(count - 1)
        ]
        return [image, *crops]
    return video_frames(path, count)


def letterboxed(frames: list[Frame], height: int, width: int) -> Iterator[npt.NDArray[np.float32]]:
    """Each frame as the detector's ``(1, 3, height, width)`` float32 input (a fresh copy)."""
    boxer = Letterboxer(height, width)
    for frame in frames:
        try:
            boxer(as_bgr_uint8(frame), 0)
        except InputError as exc:
            raise ConfigError(f"calibration: unusable frame: {exc}") from exc
        yield np.array(boxer.tensor, np.float32)
