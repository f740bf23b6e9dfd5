"""Request bodies and response headers every answer of the API shares.

JSON nesting is bounded before any decoder sees the bytes.

msgspec decodes recursively, so JSON nested some thousand levels deep raised ``RecursionError``
inside Litestar's body parsing (an HTTP 500). :class:`BoundedRequest` (the app's request class)
measures the nesting first and answers 400 past :data:`MAX_JSON_DEPTH`, for every handler
that takes a JSON body, whatever its type. The measure costs two ``bytes.count`` calls for
ordinary bodies; only a body with more than :data:`MAX_JSON_DEPTH` brackets is scanned (its
strings removed by one regular expression, then a pass over the remaining brackets).

:func:`nosniff` (an app-level ``before_send`` hook) adds ``X-Content-Type-Options: nosniff`` to
every HTTP answer, errors included, so that no browser renders an upload or an error as a
document of another type than the one declared.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from aios.controlplane.errors import InvalidRequestError

MAX_JSON_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth(body: bytes) -> int:
    """How deeply the arrays and objects of the JSON text ``body`` nest (0 for a scalar)."""
    if body.count(b"[") + body.count(b"{") == 0:
        return 0
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def check_json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`InvalidRequestError` (400) when ``body`` nests deeper than ``limit``."""
    if body.count(b"[") + body.count(b"{") > limit and json_depth(body) > limit:
        raise InvalidRequestError(f"JSON nested deeper than {limit} levels", field="body")


class BoundedRequest(Request[Any, Any, Any]):
    """Litestar's request, refusing over-nested JSON bodies before decoding them."""

    async def json(self) -> Any:
        check_json_depth(await self.body())
        return await super().json()


async def nosniff(message: Message, scope: Scope) -> None:
    """``before_send`` hook: ``X-Content-Type-Options: nosniff`` on every HTTP answer."""
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)["X-Content-Type-Options"] = "nosniff"
