"""Make a sample video from still photographs: slow pans and zooms across each image, with
cuts between them, so a detector sees the same people move a little from frame to frame.

    uv run python -m scripts.sample_video OUT.mp4 [--images DIR] [--seconds 12] [--fps 15]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

DEFAULT_IMAGES = (
    Path(
        os.environ.get(
            "AIOS_TEST_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "testdata")
        )
    )
    / "images"
)


def _frame_at(
    image: npt.NDArray[np.uint8], t: float, size: tuple[int, int]
) -> npt.NDArray[np.uint8]:
    """A crop of ``image`` at phase ``t`` in [0, 1]: zoom from 100% to 85% while panning."""
    h, w = image.shape[:2]
    scale = 1.0 - 0.15 * t
    cw, ch = int(w * scale), int(h * scale)
    x0 = int((w - cw) * t)
    y0 = int((h - ch) * 0.5 * t)
    crop = image[y0 : y0 + ch, x0 : x0 + cw]
    out_w, out_h = size
    # Keep the aspect ratio: fit inside the output, pad with gray.
    r = min(out_w / cw, out_h / ch)
    resized = cv2.resize(
        crop, (max(1, int(cw * r)), max(1, int(ch * r))), interpolation=cv2.INTER_AREA
    )
    canvas = np.full((out_h, out_w, 3), 114, np.uint8)
    oy = (out_h - resized.shape[0]) // 2
    ox = (out_w - resized.shape[1]) // 2
    canvas[oy : oy + resized.shape[0], ox : ox + resized.shape[1]] = resized
    return canvas


def first_frame_transform(
    image_wh: tuple[int, int], size: tuple[int, int]
) -> tuple[float, int, int]:
    """Scale and offset (r, ox, oy) that map a still's pixels into the video's first frame
    of that still (phase 0: no zoom, no pan), so tests can place reference boxes."""
    w, h = image_wh
    out_w, out_h = size
    r = min(out_w / w, out_h / h)
    return r, (out_w - max(1, int(w * r))) // 2, (out_h - max(1, int(h * r))) // 2


def make_sample_video(
    out: Path,
    images: Sequence[Path] | None = None,
    *,
    seconds: float = 12.0,
    fps: float = 15.0,
    size: tuple[int, int] = (960, 540),
) -> Path:
    """Write an MP4 (mp4v) of pans and zooms over ``images``; returns ``out``."""
    paths = list(images) if images else sorted(DEFAULT_IMAGES.glob("*.jpg"))
    if not paths:
        raise FileNotFoundError(f"no images to make a video from (looked in {DEFAULT_IMAGES})")
    stills = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read image {p}")
        stills.append(img.astype(np.uint8))
    total = max(1, int(seconds * fps))
    per_image = max(1, total // len(stills))
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {out}")
    try:
        for i in range(total):
            still = stills[min(i // per_image, len(stills) - 1)]
            t = (i % per_image) / max(1, per_image - 1)
            writer.write(_frame_at(still, t, size))
    finally:
        writer.release()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--width", type=int, default=960)
    parser.add_argument("--height", type=int, default=540)
    args = parser.parse_args()
    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".jpg", ".png"})
    path = make_sample_video(
        args.out, images, seconds=args.seconds, fps=args.fps, size=(args.width, args.height)
    )
    print(path)


if __name__ == "__main__":
    main()
