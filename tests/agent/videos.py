"""Sample videos for agent tests, made from the shared test images (never stored in the repo)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def make_sample_video(
    images_dir: Path,
    out: Path,
    *,
    seconds: float = 4.0,
    fps: float = 10.0,
    size: tuple[int, int] = (640, 480),
) -> Path:
    """Pans and zooms across each test image in turn, written with the 'mp4v' codec."""
    width, height = size
    read = [cv2.imread(str(p)) for p in sorted(images_dir.glob("*.jpg"))]
    pictures = [p for p in read if p is not None]
    assert pictures, f"no test images in {images_dir}"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "cv2.VideoWriter could not open an mp4v writer"
    total = int(seconds * fps)
    per_image = max(1, total // len(pictures))
    for i in range(total):
        picture = pictures[min(i // per_image, len(pictures) - 1)]
        t = (i % per_image) / per_image
        h, w = picture.shape[:2]
        zoom = 1.0 - 0.25 * t  # zoom in slowly
        cw, ch = int(w * zoom), int(h * zoom)
        x0 = int((w - cw) * t)  # pan left to right
        y0 = (h - ch) // 2
        crop = picture[y0 : y0 + ch, x0 : x0 + cw]
        writer.write(cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA))
    writer.release()
    assert out.stat().st_size > 0
    return out


def blank(width: int = 64, height: int = 48) -> np.ndarray:
    return np.zeros((height, width, 3), np.uint8)
