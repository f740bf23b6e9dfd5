"""The motion model: a constant-velocity track is predicted where it will be."""

from __future__ import annotations

import numpy as np
import pytest

from aios.agent.analytics.kalman import KalmanFilterXYAH, xyah_to_xyxy, xyxy_to_xyah


@pytest.mark.parametrize("box", [[10, 20, 50, 100], [0, 0, 1, 1], [100.5, 3.25, 180, 400]])
def test_box_conversion_round_trips(box: list[float]) -> None:
    xyxy = np.array([box], dtype=np.float64)
    np.testing.assert_allclose(xyah_to_xyxy(xyxy_to_xyah(xyxy)), xyxy, atol=1e-9)


@pytest.mark.parametrize("velocity", [(5.0, 0.0), (-3.0, 2.0), (0.0, 0.0)])
def test_constant_velocity_is_learned(velocity: tuple[float, float]) -> None:
    kf = KalmanFilterXYAH()
    box = np.array([[100.0, 100.0, 140.0, 200.0]])
    step = np.array([velocity[0], velocity[1], velocity[0], velocity[1]])
    mean, cov = kf.initiate(xyxy_to_xyah(box))
    for k in range(1, 30):
        mean, cov = kf.predict(mean, cov)
        mean, cov = kf.update(mean, cov, xyxy_to_xyah(box + k * step))
    mean, _ = kf.predict(mean, cov)
    np.testing.assert_allclose(xyah_to_xyxy(mean), box + 30 * step, atol=0.5)
    np.testing.assert_allclose(mean[0, 4:6], velocity, atol=0.1)
