"""Login and registration rate limiting: sliding windows per client address, and a
progressive delay per account+address pair after failed logins.

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


class FailureBackoff:
    """A progressive delay per key: the first ``free`` failures cost nothing, then each further
    failure doubles the wait before the next attempt (``base_s``, ``2 * base_s``... up to
    ``max_s``). A key is forgotten ``forget_s`` after its last failure, or on :meth:`reset`."""

    def __init__(
        self,
        *,
        free: int = 3,
        base_s: float = 2.0,
        max_s: float = 900.0,
        forget_s: float = 900.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base_s = base_s
        self.max_s = max_s
        self.forget_s = forget_s
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None when it may try now."""
        state = self._failures.get(key)
        if state is None:
            return None
        count, last = state
        elapsed = self._clock() - last
        if elapsed >= self.forget_s:
            del self._failures[key]
            return None
        if count < self.free:
            return None
        wait = min(self.max_s, self.base_s * 2 ** (count - self.free)) - elapsed
        return wait if wait > 0 else None

    def failed(self, key: str) -> None:
        count, _ = self._failures.pop(key, (0, 0.0))
        self._failures[key] = (count + 1, self._clock())
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)


class LoginLimiter:
    """Every login attempt per client address, and failures per account *and* address.

    Failures slow down the pair (account, address) that made them (:class:`FailureBackoff`)
    rather than lock the account: an attacker who knows an email can no longer lock its owner
    out, and a guesser is held to a few attempts then one per doubling delay per address.
    The address is the TCP peer unless a proxy is trusted (``AIOS_TRUSTED_PROXIES``).
    """

    def __init__(
        self,
        *,
        address_attempts: int = 30,
        address_window_s: float = 60.0,
        pair_free_failures: int = 3,
        pair_base_delay_s: float = 2.0,
        pair_max_delay_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.addresses = SlidingWindowLimiter(address_attempts, address_window_s, clock=clock)
        self.pairs = FailureBackoff(
            free=pair_free_failures,
            base_s=pair_base_delay_s,
            max_s=pair_max_delay_s,
            forget_s=pair_max_delay_s,
            clock=clock,
        )

    @staticmethod
    def _pair(account: str, address: str) -> str:
        return f"{address}\n{account}"

    def check(self, account: str, address: str) -> float | None:
        """Seconds to wait before another attempt, or None; counts the attempt by address."""
        wait = self.addresses.retry_after(address)
        if wait is None:
            wait = self.pairs.retry_after(self._pair(account, address))
        if wait is None:
            self.addresses.hit(address)
        return wait

    def failed(self, account: str, address: str) -> None:
        self.pairs.failed(self._pair(account, address))

    def succeeded(self, account: str, address: str) -> None:
        self.pairs.reset(self._pair(account, address))
