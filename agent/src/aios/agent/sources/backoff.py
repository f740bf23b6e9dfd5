"""Exponential backoff with jitter, capped so a returning camera is back within seconds."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays ``initial * factor**n`` capped at ``cap`` seconds (default 5 s, so a stream
    whose camera returns is retried, and back, within 10 s), with +-``jitter`` spread."""

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 5.0
    jitter: float = 0.1
    attempts: int = field(default=0, init=False)

    def next_delay(self) -> float:
        delay = min(self.cap, self.initial * self.factor**self.attempts)
        self.attempts += 1
        spread = delay * self.jitter
        return max(0.0, delay + random.uniform(-spread, spread))

    def reset(self) -> None:
        self.attempts = 0
