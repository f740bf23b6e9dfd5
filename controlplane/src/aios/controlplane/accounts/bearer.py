"""Bearer secrets (refresh tokens, enrollment tokens, device passwords): made and stored.

A bearer secret is random (256 bits), so it is stored as its SHA-256, looked up by that digest,
and shown to its owner once. Passwords chosen by people are hashed with argon2id instead
(:mod:`aios.controlplane.accounts.passwords`).
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}{secrets.token_urlsafe(nbytes)}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
