"""Exponential backoff, for every retry loop on both sides (one definition, not one per loop).

:func:`exponential_delay` is the pure rule, for callers that keep the attempt count themselves
(a webhook delivery row, a resend clock): ``initial * factor**attempt``, capped at ``cap``.
:class:`Backoff` keeps the count for a loop that retries until something works, with
``+-jitter`` spread so that a fleet of devices (or replicas) that lost the same server do not
come back in lockstep; :meth:`Backoff.reset` once it worked.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field


def exponential_delay(
    attempt: int, *, initial: float, cap: float = math.inf, factor: float = 2.0
) -> float:
    """The delay before retry number ``attempt`` (0 is the first retry): ``initial`` growing by
    ``factor`` each attempt, never more than ``cap``."""
    if attempt < 0:
        raise ValueError(f"attempt must not be negative, got {attempt}")
    if initial < 0 or cap < 0 or factor < 1:
        raise ValueError(f"bad backoff: initial={initial}, cap={cap}, factor={factor}")
    try:
        return min(cap, initial * float(factor) ** attempt)
    except OverflowError:  # long after the cap was reached
        return float(cap)


@dataclass(slots=True)
class Backoff:
    """Delays ``initial * factor**n`` capped at ``cap`` seconds, each spread by up to
    ``+-jitter`` (a fraction of the delay), ``n`` counting the delays handed out since the last
    :meth:`reset`."""

    initial: float
    cap: float
    factor: float = 2.0
    jitter: float = 0.1
    uniform: Callable[[float, float], float] = field(default=random.uniform, repr=False)
    """Where the spread comes from (``random.uniform``; a test may pin it)."""
    attempts: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")
        exponential_delay(0, initial=self.initial, cap=self.cap, factor=self.factor)  # checks

    def next_delay(self) -> float:
        delay = exponential_delay(
            self.attempts, initial=self.initial, cap=self.cap, factor=self.factor
        )
        self.attempts += 1
        spread = delay * self.jitter
        return max(0.0, delay + self.uniform(-spread, spread)) if spread else delay

    def reset(self) -> None:
        self.attempts = 0
