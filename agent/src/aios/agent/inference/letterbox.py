"""Letterbox preprocessing, exactly as Ultralytics' ``LetterBox(auto=False)`` does it for ONNX.

The frame is scaled by ``r = min(H / h, W / w)`` to ``(round(w * r), round(h * r))`` with
``INTER_LINEAR``, centred on a ``(H, W)`` canvas of grey 114 (padding split as
``round(d - 0.1)`` / ``round(d + 0.1)``), turned BGR -> RGB and divided by 255 into a float NCHW
tensor. :class:`Letterboxer` writes that tensor into one preallocated buffer: the grey border
is painted only when the geometry changes, and each frame costs one resize, one channel split
and three scaled copies, all into buffers that are reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from aios.agent.errors import InputError
from aios.agent.recent import RecentMap

PAD_VALUE = 114


@dataclass(frozen=True, slots=True)
class LetterboxGeometry:
    """Where a ``src_h x src_w`` frame lands on the ``dst_h x dst_w`` network input."""

    src_h: int
    src_w: int
    dst_h: int
    dst_w: int
    scale: float
    new_h: int
    new_w: int
    top: int
    left: int

    @classmethod
    def compute(cls, src_h: int, src_w: int, dst_h: int, dst_w: int) -> LetterboxGeometry:
        """Ultralytics' geometry (centre, scale up allowed). Sizes are at least one pixel."""
        if min(src_h, src_w, dst_h, dst_w) < 1:
            raise InputError(f"cannot letterbox {src_w}x{src_h} into {dst_w}x{dst_h}")
        scale = min(dst_h / src_h, dst_w / src_w)
        new_w = min(dst_w, max(1, round(src_w * scale)))
        new_h = min(dst_h, max(1, round(src_h * scale)))
        top = round((dst_h - new_h) / 2 - 0.1)
        left = round((dst_w - new_w) / 2 - 0.1)
        return cls(src_h, src_w, dst_h, dst_w, scale, new_h, new_w, max(0, top), max(0, left))

    def to_source(self, boxes: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map xyxy boxes (N, 4) from network pixels to source pixels, in place, clipped.

        Same arithmetic as Ultralytics' ``scale_boxes``: the padding is recomputed from the
        unrounded scaled size, and the result is clipped to the frame.
        """
        pad_x = round((self.dst_w - self.src_w * self.scale) / 2 - 0.1)
        pad_y = round((self.dst_h - self.src_h * self.scale) / 2 - 0.1)
        boxes[:, 0::2] -= np.float32(pad_x)
        boxes[:, 1::2] -= np.float32(pad_y)
        boxes /= np.float32(self.scale)
        np.clip(boxes[:, 0::2], 0, self.src_w, out=boxes[:, 0::2])
        np.clip(boxes[:, 1::2], 0, self.src_h, out=boxes[:, 1::2])
        return boxes


def as_bgr_uint8(frame: object) -> npt.NDArray[np.uint8]:
    """Check a frame and bring it to contiguous ``HxWx3`` BGR ``uint8``.

    Accepted: ``HxWx3`` BGR, ``HxW`` or ``HxWx1`` grayscale (converted to BGR), ``HxWx4`` BGRA
    (alpha dropped); ``uint8``, or ``uint16`` (scaled to 8 bits, as 16-bit PNGs load). Anything
    else raises :class:`InputError` naming what was found.
    """
    if not isinstance(frame, np.ndarray):
        raise InputError(f"a frame must be a numpy array, got {type(frame).__name__}")
    if frame.size == 0:
        raise InputError(f"empty frame (shape {frame.shape})")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
        raise InputError(
            f"expected an HxWx3 BGR image (or HxW grayscale, HxWx4 BGRA), got shape {frame.shape}"
        )
    if frame.dtype == np.uint16:
        frame = (frame >> 8).astype(np.uint8)
    elif frame.dtype != np.uint8:
        raise InputError(f"expected uint8 (or uint16) pixels, got {frame.dtype}")
    if frame.ndim == 2:
        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    if frame.shape[2] == 4:
        return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR), dtype=np.uint8)
    return np.ascontiguousarray(frame)


SIZES_KEPT = 8
"""Resized frame sizes whose buffers a :class:`Letterboxer` keeps."""


class Letterboxer:
    """Writes letterboxed frames into a preallocated ``(batch, 3, H, W)`` input tensor."""

    def __init__(
        self, height: int, width: int, *, batch: int = 1, dtype: type[np.floating] = np.float32
    ) -> None:
        self.height = height
        self.width = width
        self.tensor: npt.NDArray[np.floating] = np.empty((batch, 3, height, width), dtype)
        self._scale = np.float32(1.0 / 255.0)
        self._painted: list[LetterboxGeometry | None] = [None] * batch
        # Buffers per resized size: one per source aspect ratio; a few are kept (a camera may
        # change resolution, several cameras may share the detector), the least recent dropped.
        self._resized: RecentMap[tuple[int, int], npt.NDArray[np.uint8]] = RecentMap(SIZES_KEPT)
        self._planes: RecentMap[tuple[int, int], list[npt.NDArray[np.uint8]]] = RecentMap(
            SIZES_KEPT
        )

    def geometry(self, src_h: int, src_w: int) -> LetterboxGeometry:
        return LetterboxGeometry.compute(src_h, src_w, self.height, self.width)

    def __call__(self, frame: npt.NDArray[np.uint8], slot: int = 0) -> LetterboxGeometry:
        """Letterbox a contiguous ``HxWx3`` BGR ``uint8`` frame into ``tensor[slot]``."""
        geo = self.geometry(frame.shape[0], frame.shape[1])
        target = self.tensor[slot]
        if self._painted[slot] != geo:
            target.fill(PAD_VALUE / 255.0)
            self._painted[slot] = geo
        size = (geo.new_h, geo.new_w)
        if frame.shape[:2] != size:
            resized = self._resized.get(size)
            if resized is None:
                resized = self._resized[size] = np.empty((*size, 3), np.uint8)
            cv2.resize(frame, (geo.new_w, geo.new_h), dst=resized, interpolation=cv2.INTER_LINEAR)
            frame = resized
        planes = self._planes.get(size)
        if planes is None:
            planes = self._planes[size] = [np.empty(size, np.uint8) for _ in range(3)]
        cv2.split(frame, planes)
        region = target[:, geo.top : geo.top + geo.new_h, geo.left : geo.left + geo.new_w]
        for channel in range(3):  # BGR planes -> RGB channels
            np.multiply(planes[2 - channel], self._scale, out=region[channel], casting="unsafe")
        return geo

    def clear(self, slot: int) -> None:
        """Paint ``tensor[slot]`` grey (an unused slot of a fixed-batch model)."""
        if self._painted[slot] is not None:
            self.tensor[slot].fill(PAD_VALUE / 255.0)
            self._painted[slot] = None
