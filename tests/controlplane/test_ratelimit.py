"""The login limiter with a fake clock: per-address windows and per account+address backoff."""

from __future__ import annotations

import pytest

from aios.controlplane.accounts.ratelimit import FailureBackoff, LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("failures", "elapsed", "expected"),
    [
        (0, 0.0, None),
        (2, 0.0, None),  # the first failures are free
        (3, 0.0, 2.0),  # then 2 s...
        (3, 1.5, 0.5),
        (3, 2.0, None),
        (4, 0.0, 4.0),  # ... doubling per failure
        (6, 0.0, 16.0),
        (30, 0.0, 900.0),  # capped
        (30, 900.0, None),  # and forgotten after the longest delay
    ],
)
def test_backoff_doubles_then_forgets(
    failures: int, elapsed: float, expected: float | None
) -> None:
    clock = Clock()
    backoff = FailureBackoff(free=3, base_s=2.0, max_s=900.0, forget_s=900.0, clock=clock)
    for _ in range(failures):
        backoff.failed("k")
    clock.now += elapsed
    assert backoff.retry_after("k") == expected


def test_an_attacker_never_locks_the_owner_out() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for _ in range(20):
        if limiter.check("victim@example.com", "203.0.113.7") is None:
            limiter.failed("victim@example.com", "203.0.113.7")
    assert limiter.check("victim@example.com", "203.0.113.7") is not None
    assert limiter.check("victim@example.com", "198.51.100.9") is None
    assert limiter.check("other@example.com", "203.0.113.7") is None


def test_a_success_clears_the_pair_and_every_attempt_counts_per_address() -> None:
    clock = Clock()
    limiter = LoginLimiter(address_attempts=5, address_window_s=60.0, clock=clock)
    for _ in range(3):
        assert limiter.check("a@example.com", "10.0.0.1") is None
        limiter.failed("a@example.com", "10.0.0.1")
    clock.now += 2.0
    assert limiter.check("a@example.com", "10.0.0.1") is None
    limiter.succeeded("a@example.com", "10.0.0.1")
    assert limiter.check("b@example.com", "10.0.0.1") is None
    assert limiter.check("c@example.com", "10.0.0.1") == pytest.approx(58.0)
    clock.now += 58.0
    assert limiter.check("c@example.com", "10.0.0.1") is None
