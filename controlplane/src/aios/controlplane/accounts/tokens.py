"""JSON Web Tokens, following RFC 8725 (JWT best current practices).

One algorithm is allowed (HS256 with ``AIOS_SECRET_KEY``); ``exp``, ``iat``, ``iss``, ``aud``,
``sub`` and ``typ`` are required and checked; an access token can never be used as a refresh
token or the reverse (``typ`` differs, and the JOSE header's ``typ`` is explicit too).
"""

from __future__ import annotations

import enum
import secrets
import time
from typing import Any

import jwt
import msgspec

from aios.controlplane.errors import AuthenticationError, ControlPlaneError

ALGORITHM = "HS256"
ISSUER = "aios-controlplane"
AUDIENCE = "aios-api"
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "typ", "jti"]


class TokenType(str, enum.Enum):
    ACCESS = "access"
    REFRESH = "refresh"


class InvalidTokenError(AuthenticationError):
    """A token is malformed, forged, expired, or of the wrong kind (always answered 401)."""


class TokenClaims(msgspec.Struct, frozen=True, kw_only=True):
    sub: str
    org: str
    role: str
    typ: TokenType
    jti: str
    exp: int
    iat: int
    fam: str | None = None


class TokenCodec:
    """Signs and verifies the control plane's tokens with one key and one algorithm."""

    def __init__(self, secret_key: str, *, access_ttl_s: int, refresh_ttl_s: int) -> None:
        if len(secret_key) < 32:
            raise ControlPlaneError("the signing key must be at least 32 characters")
        self._key = secret_key
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s

    def issue(
        self,
        typ: TokenType,
        *,
        user_id: str,
        org_id: str,
        role: str,
        family_id: str | None = None,
        now: float | None = None,
    ) -> tuple[str, TokenClaims]:
        issued = int(time.time() if now is None else now)
        ttl = self.access_ttl_s if typ is TokenType.ACCESS else self.refresh_ttl_s
        claims = TokenClaims(
            sub=user_id,
            org=org_id,
            role=role,
            typ=typ,
            jti=secrets.token_hex(16),
            iat=issued,
            exp=issued + ttl,
            fam=family_id,
        )
        payload: dict[str, Any] = msgspec.to_builtins(claims)
        payload |= {"iss": ISSUER, "aud": AUDIENCE}
        headers = {"typ": "at+jwt" if typ is TokenType.ACCESS else "rt+jwt"}
        token = jwt.encode(payload, self._key, algorithm=ALGORITHM, headers=headers)
        return token, claims

    def verify(self, token: str, expected: TokenType) -> TokenClaims:
        """The claims of a valid token of type ``expected``; raises :class:`InvalidTokenError`."""
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": _REQUIRED, "verify_signature": True},
                leeway=5,
            )
            claims = msgspec.convert(payload, TokenClaims, strict=False)
        except (jwt.PyJWTError, msgspec.ValidationError) as exc:
            raise InvalidTokenError(f"invalid token: {type(exc).__name__}") from None
        if claims.typ is not expected:
            raise InvalidTokenError(f"a {claims.typ.value} token cannot be used here")
        return claims
