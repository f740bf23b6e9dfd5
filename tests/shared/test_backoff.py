"""The one backoff rule both sides retry with (:mod:`aios.shared.backoff`)."""

from __future__ import annotations

import math

import pytest

from aios.shared.backoff import Backoff, exponential_delay


@pytest.mark.parametrize(
    ("attempt", "initial", "cap", "factor", "expected"),
    [
        (0, 0.5, 5.0, 2.0, 0.5),  # the first retry waits the initial delay
        (1, 0.5, 5.0, 2.0, 1.0),
        (3, 0.5, 5.0, 2.0, 4.0),
        (4, 0.5, 5.0, 2.0, 5.0),  # 8 s capped at 5 s
        (10_000, 0.5, 5.0, 2.0, 5.0),  # far past the cap: no overflow, still the cap
        (3, 2.0, math.inf, 2.0, 16.0),  # uncapped (webhook deliveries bound their attempts)
        (2, 1.0, 100.0, 3.0, 9.0),
        (5, 1.0, 30.0, 1.0, 1.0),  # factor 1: a constant delay
        (4, 0.0, 10.0, 2.0, 0.0),  # no delay at all
    ],
)
def test_exponential_delay(
    attempt: int, initial: float, cap: float, factor: float, expected: float
) -> None:
    assert exponential_delay(attempt, initial=initial, cap=cap, factor=factor) == expected


def test_exponential_delay_without_a_cap_overflows_to_infinity() -> None:
    assert exponential_delay(10_000, initial=1.0) == math.inf


@pytest.mark.parametrize(
    ("attempt", "initial", "cap", "factor"),
    [(-1, 1.0, 5.0, 2.0), (0, -1.0, 5.0, 2.0), (0, 1.0, -5.0, 2.0), (0, 1.0, 5.0, 0.5)],
)
def test_exponential_delay_refuses_nonsense(
    attempt: int, initial: float, cap: float, factor: float
) -> None:
    with pytest.raises(ValueError, match=r"must not be negative|bad backoff"):
        exponential_delay(attempt, initial=initial, cap=cap, factor=factor)


@pytest.mark.parametrize(
    ("initial", "cap", "factor", "expected"),
    [
        (0.5, 5.0, 2.0, [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]),  # a camera reconnecting
        (1.0, 30.0, 2.0, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]),  # a crashed pipeline restarting
        (0.2, 10.0, 2.0, [0.2, 0.4, 0.8, 1.6, 3.2, 6.4]),  # an ingest write retried
    ],
)
def test_backoff_grows_to_its_cap_and_starts_over_after_a_reset(
    initial: float, cap: float, factor: float, expected: list[float]
) -> None:
    backoff = Backoff(initial=initial, cap=cap, factor=factor, jitter=0.0)
    assert [backoff.next_delay() for _ in expected] == pytest.approx(expected)
    assert backoff.attempts == len(expected)
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(initial)


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(-1.0, 3.6), (0.0, 4.0), (1.0, 4.4)],  # the extremes of +-10 % and the middle
)
def test_backoff_jitter_spreads_each_delay_within_its_fraction(
    draw: float, expected: float
) -> None:
    """``uniform(-spread, spread)`` decides where in the band a delay falls; pinned here."""
    backoff = Backoff(initial=1.0, cap=60.0, jitter=0.1, uniform=lambda low, high: draw * high)
    delays = [backoff.next_delay() for _ in range(3)]
    assert delays[2] == pytest.approx(expected)


def test_backoff_jitter_really_spreads() -> None:
    delays = {Backoff(initial=1.0, cap=5.0).next_delay() for _ in range(50)}
    assert len(delays) > 1
    assert all(0.9 <= d <= 1.1 for d in delays)


@pytest.mark.parametrize("jitter", [-0.1, 1.0, 2.0])
def test_backoff_refuses_a_jitter_outside_0_to_1(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        Backoff(initial=1.0, cap=5.0, jitter=jitter)
