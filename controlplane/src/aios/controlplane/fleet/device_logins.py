"""Device password checks that an attacker cannot turn into an argon2 storm.

A device logs in with its enrollment password on HTTP (snapshot uploads) and on MQTT (the
embedded broker); each check is an argon2id verification (about 40 ms of a core). One
:class:`DeviceLoginGuard` per process, shared by both doors:

* **remembered successes**: a successful check is remembered for ``remember_s`` (renewed by
  each use) as an HMAC, under a per-process random key, of the stored hash and the presented
  password; the next request with the same password against the same stored hash skips
  argon2. The stored hash is still read on every request, so a deleted or re-enrolled device
  is refused at once, on every replica;
* **throttled failures**: at most ``failures`` failed checks per ``window_s`` per client
  address and per device; past that, a login that is not a remembered success is refused
  without running argon2 (HTTP 429 with ``Retry-After``; MQTT: CONNACK "not authorized").
  A device that is working keeps working (its success is remembered), a guesser is slowed to
  ``failures`` checks per window;
* **one argon2 check at a time** for devices, so that a flood from many addresses takes at
  most one core, never the API's.

In memory, per replica (as the login limiter of :mod:`aios.controlplane.accounts.ratelimit`);
the number of remembered successes is bounded (the least recently used is dropped).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from aios.controlplane.accounts.passwords import verify_password
from aios.controlplane.accounts.ratelimit import SlidingWindowLimiter
from aios.controlplane.errors import RateLimitedError


class DeviceLoginGuard:
    """See the module docstring."""

    def __init__(
        self,
        *,
        failures: int = 10,
        window_s: float = 60.0,
        remember_s: float = 900.0,
        max_remembered: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._by_address = SlidingWindowLimiter(failures, window_s, clock=clock)
        self._by_device = SlidingWindowLimiter(failures, window_s, clock=clock)
        self._remember_s = remember_s
        self._max_remembered = max_remembered
        self._key = secrets.token_bytes(32)
        self._remembered: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._argon2 = asyncio.Semaphore(1)
        self.argon2_checks = 0  # how many full checks ran (a figure for tests and metrics)

    def _mac(self, password_hash: str, password: str) -> bytes:
        message = password_hash.encode() + b"\x00" + password.encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _remembers(self, device: str, mac: bytes) -> bool:
        entry = self._remembered.get(device)
        if entry is None or entry[1] <= self._clock() or not hmac.compare_digest(entry[0], mac):
            return False
        self._remember(device, mac)
        return True

    def _remember(self, device: str, mac: bytes) -> None:
        self._remembered[device] = (mac, self._clock() + self._remember_s)
        self._remembered.move_to_end(device)
        while len(self._remembered) > self._max_remembered:
            self._remembered.popitem(last=False)

    def forget(self, device: str) -> None:
        """Drop the remembered success of ``device`` (it was revoked)."""
        self._remembered.pop(device, None)

    def retry_after(self, device: str, address: str) -> float | None:
        """Seconds before ``address`` or ``device`` may try an unremembered login, or None."""
        waits = [
            w
            for w in (self._by_address.retry_after(address), self._by_device.retry_after(device))
            if w is not None
        ]
        return max(waits) if waits else None

    async def verify(
        self, device: str, password_hash: str | None, password: str, *, address: str
    ) -> bool:
        """Whether ``password`` matches ``password_hash`` (``None``: no such device, checked
        against a dummy hash all the same). ``device`` names the login (its user name or id),
        ``address`` the client. Raises :class:`RateLimitedError` when throttled."""
        mac = self._mac(password_hash, password) if password_hash is not None else None
        if mac is not None and self._remembers(device, mac):
            return True
        wait = self.retry_after(device, address)
        if wait is not None:
            raise RateLimitedError("too many failed device logins", retry_after_s=wait)
        async with self._argon2:
            self.argon2_checks += 1
            ok = await verify_password(password_hash, password)
        if ok and mac is not None:
            self._remember(device, mac)
            return True
        self._by_address.hit(address)
        self._by_device.hit(device)
        return False
