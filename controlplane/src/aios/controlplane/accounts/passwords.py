"""Password hashing with argon2id, off the event loop.

Parameters are at or above OWASP's minimum for argon2id (m = 19 MiB, t = 2, p = 1). Hashing
runs in a worker thread (:func:`anyio.to_thread.run_sync`) so a login never blocks the loop.
"""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1

_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

# Verified against when the account does not exist, so that a login takes as long either way.
_DUMMY_HASH = _HASHER.hash("aios: no such account")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_HASHER.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a missing hash costs the same time and answers False."""

    def verify() -> bool:
        try:
            return _HASHER.verify(password_hash or _DUMMY_HASH, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(verify)
