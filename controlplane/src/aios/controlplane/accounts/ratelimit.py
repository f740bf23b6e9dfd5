"""Login rate limiting: sliding windows per account and per client address.

In memory, so the limits hold per control-plane replica (with N replicas an attacker gets N
times the budget); a shared store (the database or Redis) would be needed to make them global.
The number of tracked keys is bounded: the oldest key is forgotten first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """At most ``limit`` hits per key in any window of ``window_s`` seconds."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _window(self, key: str) -> deque[float]:
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            hits = deque()
            self._hits[key] = hits
            while len(self._hits) > self._max_keys:
                self._hits.popitem(last=False)
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        return hits

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None when it is under the limit."""
        hits = self._window(key)
        if len(hits) < self.limit:
            return None
        return max(0.0, hits[0] + self.window_s - self._clock())

    def hit(self, key: str) -> None:
        self._window(key).append(self._clock())
        self._hits.move_to_end(key)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)


class LoginLimiter:
    """Failed logins per account, and every login attempt per client address."""

    def __init__(
        self,
        *,
        account_failures: int = 5,
        account_window_s: float = 900.0,
        address_attempts: int = 30,
        address_window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.accounts = SlidingWindowLimiter(account_failures, account_window_s, clock=clock)
        self.addresses = SlidingWindowLimiter(address_attempts, address_window_s, clock=clock)

    def check(self, account: str, address: str) -> float | None:
        """Seconds to wait before another attempt, or None; counts the attempt by address."""
        wait = self.addresses.retry_after(address)
        if wait is None:
            wait = self.accounts.retry_after(account)
        if wait is None:
            self.addresses.hit(address)
        return wait

    def failed(self, account: str) -> None:
        self.accounts.hit(account)

    def succeeded(self, account: str) -> None:
        self.accounts.reset(account)
