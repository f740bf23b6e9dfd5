"""What a chosen password must not be: common, trivial, or made from the account's email.

Length (10 to 256 characters) is checked by the request schemas. On top of it,
:func:`check_password` refuses, with an :class:`InvalidRequestError` naming ``password``:

- a password on the shipped list of the ~10,800 most common ones (``common_passwords.txt``,
  from zxcvbn's ranked list), also once the digits, symbols and spaces around a word are taken
  off (``Sunshine2024!`` is ``sunshine``);
- only digits or spaces, fewer than 4 distinct characters, one short unit repeated (``abab...``,
  ``123123...``), and runs along the alphabet, the digits or a keyboard row, either way;
- the email address, or its local part with only digits and symbols around it.

This follows NIST SP 800-63B section 5.1.1.2 (a blocklist of common, expected or
context-specific values; no composition rules).
"""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

from aios.controlplane.errors import InvalidRequestError

_SEQUENCES = (
    "0123456789012345678901234567890",
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "qazwsxedcrfvtgbyhnujmikolp",
)
_AROUND = string.digits + string.punctuation + string.whitespace


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _core(value: str) -> str:
    return value.lower().strip(_AROUND)


def _is_sequence(value: str) -> bool:
    lowered = value.lower()
    return any(lowered in seq or lowered in seq[::-1] for seq in _SEQUENCES)


def _is_repetition(value: str) -> bool:
    n = len(value)
    return any(value == (value[:k] * (n // k + 1))[:n] for k in range(1, min(4, n // 2) + 1))


def weakness(password: str, *, email: str | None = None) -> str | None:
    """Why ``password`` is too weak, or None."""
    stripped = password.strip()
    lowered = stripped.lower()
    core = _core(stripped)
    if not stripped or stripped.isdigit():
        return "must not be only digits or spaces"
    if len(set(lowered)) < 4 or _is_repetition(lowered):
        return "must not repeat a few characters"
    if _is_sequence(lowered) or (len(core) >= 4 and _is_sequence(core)):
        return "must not be a run of the alphabet, digits or keyboard"
    common = common_passwords()
    if lowered in common or core in common or lowered.replace(" ", "") in common:
        return "is too common"
    if email:
        address = email.lower()
        local = _core(address.split("@", 1)[0])
        if lowered == address or core == address or (len(local) >= 3 and core == local):
            return "must not be made from the email address"
    return None


def check_password(password: str, *, email: str | None = None) -> None:
    """Raise :class:`InvalidRequestError` (field ``password``) for a weak password."""
    reason = weakness(password, email=email)
    if reason is not None:
        raise InvalidRequestError(f"the password {reason}", field="password")
