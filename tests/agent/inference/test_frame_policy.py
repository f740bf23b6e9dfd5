"""Frame skipping: every Nth, target fps, motion gating."""

from __future__ import annotations

import numpy as np
import pytest

from aios.agent.errors import ConfigError, InputError
from aios.agent.inference import FramePolicy
from aios.shared.pipeline.nodes import DetectParams

STILL = np.full((120, 160, 3), 90, np.uint8)


@pytest.mark.parametrize(
    ("policy", "times", "expected"),
    [
        (FramePolicy(), [0.0, 0.04, 0.08], [True, True, True]),
        (
            FramePolicy(every_n=3),
            [i * 0.04 for i in range(7)],
            [True, False, False, True, False, False, True],
        ),
        # 25 fps in, 10 fps target: one frame in 0.1 s (boundaries inclusive)
        (
            FramePolicy(target_fps=10),
            [0.0, 0.04, 0.08, 0.1, 0.12, 0.2],
            [True, False, False, True, False, True],
        ),
        (
            FramePolicy(every_n=2, target_fps=5),
            [i * 0.1 for i in range(6)],
            [True, False, True, False, True, False],
        ),
    ],
)
def test_every_n_and_target_fps(
    policy: FramePolicy, times: list[float], expected: list[bool]
) -> None:
    assert [policy.should_infer(STILL, t) for t in times] == expected


def _shifted(dx: int) -> np.ndarray:
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[40:80, 20 + dx : 60 + dx] = 255
    return frame


@pytest.mark.parametrize(
    ("threshold", "frames", "expected"),
    [
        # a still scene with sensor noise is skipped after the first frame
        (2.0, ["still", "noisy", "noisy", "still"], [True, False, False, False]),
        # a moving object is not
        (2.0, ["shift0", "shift10", "shift20", "shift20"], [True, True, True, False]),
        # slow drift (about 1.1 per pixel of shift here) adds up against the last *inferred*
        # frame, so every second 1-pixel step crosses the threshold
        (2.0, ["shift0", "shift1", "shift2", "shift3", "shift4"], [True, False, True, False, True]),
        # no threshold: no gating
        (None, ["still", "still"], [True, True]),
    ],
)
def test_motion_gating(threshold: float | None, frames: list[str], expected: list[bool]) -> None:
    rng = np.random.default_rng(0)
    noisy = np.clip(STILL + rng.normal(0, 3, STILL.shape), 0, 255).astype(np.uint8)
    make = {"still": STILL, "noisy": noisy} | {f"shift{d}": _shifted(d) for d in range(25)}
    policy = FramePolicy(motion_threshold=threshold)
    got = [policy.should_infer(make[name], i / 25) for i, name in enumerate(frames)]
    assert got == expected
    assert policy.stats.inferred == sum(expected)
    assert policy.stats.skip_share == pytest.approx(1 - sum(expected) / len(expected))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"every_n": 0}, "every_n"),
        ({"target_fps": 0.0}, "target_fps"),
        ({"motion_threshold": 300.0}, "motion_threshold"),
    ],
)
def test_invalid_policy(kwargs: dict[str, float], error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        FramePolicy(**kwargs)  # type: ignore[arg-type]


def test_from_params_and_bad_frame() -> None:
    policy = FramePolicy.from_params(DetectParams(every_n=4, target_fps=2.0, motion_threshold=3))
    assert (policy.every_n, policy.target_fps, policy.motion_threshold) == (4, 2.0, 3)
    with pytest.raises(InputError, match="non-empty uint8"):
        policy.should_infer(np.zeros((0, 0, 3), np.uint8), 0.0)
