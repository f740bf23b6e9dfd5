"""A constant-velocity Kalman filter on ``(cx, cy, aspect, h)``, as in ByteTrack and DeepSORT.

The state is ``(cx, cy, a, h, vcx, vcy, va, vh)``: box center, aspect ratio ``w / h``, height,
and their velocities per frame. Process and measurement noise scale with the box height, so
the filter behaves the same for near and far objects. Every operation is batched over tracks
(``mean`` is ``(N, 8)``, ``covariance`` ``(N, 8, 8)``) and runs in float64: covariances are
ill-conditioned in float32.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Float64Array = npt.NDArray[np.float64]

_NDIM = 4
_STD_POSITION = 1.0 / 20.0
_STD_VELOCITY = 1.0 / 160.0
# Process and measurement noise std: a part per unit of box height plus a fixed part.
_P, _V = _STD_POSITION, _STD_VELOCITY
_PREDICT_STD_PER_HEIGHT = np.array([_P, _P, 0.0, _P, _V, _V, 0.0, _V])
_PREDICT_STD_FIXED = np.array([0.0, 0.0, 1e-2, 0.0, 0.0, 0.0, 1e-5, 0.0])
_UPDATE_STD_PER_HEIGHT = np.array([_P, _P, 0.0, _P])
_UPDATE_STD_FIXED = np.array([0.0, 0.0, 1e-1, 0.0])
_DIAG8 = np.arange(2 * _NDIM)
_DIAG4 = np.arange(_NDIM)


def xyxy_to_xyah(xyxy: npt.NDArray[np.floating]) -> Float64Array:
    """``(N, 4)`` corner boxes to ``(N, 4)`` ``(cx, cy, w / h, h)`` measurements."""
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    w = boxes[:, 2] - boxes[:, 0]
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)
    out = np.empty_like(boxes)
    out[:, 0] = boxes[:, 0] + w * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5
    out[:, 2] = w / h
    out[:, 3] = h
    return out


def xyah_to_xyxy(xyah: npt.NDArray[np.floating]) -> Float64Array:
    """``(N, >=4)`` ``(cx, cy, a, h, ...)`` states to ``(N, 4)`` corner boxes."""
    state = np.asarray(xyah, dtype=np.float64).reshape(len(xyah), -1)
    h = state[:, 3]
    w = state[:, 2] * h
    out = np.empty((state.shape[0], 4), np.float64)
    out[:, 0] = state[:, 0] - w * 0.5
    out[:, 1] = state[:, 1] - h * 0.5
    out[:, 2] = state[:, 0] + w * 0.5
    out[:, 3] = state[:, 1] + h * 0.5
    return out


class KalmanFilterXYAH:
    """Batched constant-velocity Kalman filter (one step = one processed frame)."""

    def __init__(self) -> None:
        self._motion = np.eye(2 * _NDIM, dtype=np.float64)
        for i in range(_NDIM):
            self._motion[i, _NDIM + i] = 1.0

    def initiate(self, measurement: Float64Array) -> tuple[Float64Array, Float64Array]:
        """New tracks from ``(N, 4)`` measurements: zero velocity, uncertainty scaled by height."""
        n = measurement.shape[0]
        mean = np.zeros((n, 2 * _NDIM), np.float64)
        mean[:, :_NDIM] = measurement
        h = measurement[:, 3]
        std = np.stack(
            [
                2 * _STD_POSITION * h,
                2 * _STD_POSITION * h,
                np.full(n, 1e-2),
                2 * _STD_POSITION * h,
                10 * _STD_VELOCITY * h,
                10 * _STD_VELOCITY * h,
                np.full(n, 1e-5),
                10 * _STD_VELOCITY * h,
            ],
            axis=1,
        )
        covariance = _diag(np.square(std))
        return mean, covariance

    def predict(
        self, mean: Float64Array, covariance: Float64Array
    ) -> tuple[Float64Array, Float64Array]:
        """One step ahead for ``(N, 8)`` means and ``(N, 8, 8)`` covariances."""
        std = mean[:, 3:4] * _PREDICT_STD_PER_HEIGHT + _PREDICT_STD_FIXED
        new_mean = mean @ self._motion.T
        new_cov = self._motion @ covariance @ self._motion.T
        new_cov[:, _DIAG8, _DIAG8] += np.square(std)  # + motion noise (diagonal)
        return new_mean, new_cov

    def update(
        self, mean: Float64Array, covariance: Float64Array, measurement: Float64Array
    ) -> tuple[Float64Array, Float64Array]:
        """Correct ``(N, 8)`` states with ``(N, 4)`` measurements (one per state)."""
        std = mean[:, 3:4] * _UPDATE_STD_PER_HEIGHT + _UPDATE_STD_FIXED
        projected_mean = mean[:, :_NDIM]
        projected_cov = covariance[:, :_NDIM, :_NDIM].copy()  # H P H^T
        projected_cov[:, _DIAG4, _DIAG4] += np.square(std)  # + measurement noise (diagonal)
        # Kalman gain K = P H^T S^-1, solved rather than inverted: S K^T = H P.
        cross = covariance[:, :, :_NDIM]  # P H^T, (N, 8, 4)
        gain = np.linalg.solve(projected_cov, np.swapaxes(cross, 1, 2))  # (N, 4, 8)
        gain = np.swapaxes(gain, 1, 2)  # (N, 8, 4)
        innovation = measurement - projected_mean
        new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        new_cov = covariance - gain @ np.swapaxes(cross, 1, 2)  # K S K^T = K (P H^T)^T
        return new_mean, new_cov


def _diag(values: Float64Array) -> Float64Array:
    """``(N, D)`` to ``(N, D, D)`` diagonal matrices."""
    n, d = values.shape
    out = np.zeros((n, d, d), np.float64)
    idx = np.arange(d)
    out[:, idx, idx] = values
    return out
