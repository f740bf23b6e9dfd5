"""Hostile request bodies get a clear 400, never a 500: JSON nesting is bounded on every body."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from aios.controlplane.request_body import MAX_JSON_DEPTH, json_depth
from tests.controlplane.api.conftest import Account


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"", 0),
        (b"42", 0),
        (b'{"a": [1, 2, {"b": null}]}', 3),
        (b'{"a": "[[[[{{{{"}', 1),  # brackets inside strings do not count
        (b'["\\"[[[", [[]]]', 3),  # nor after an escaped quote
        (b"[" * 10_000 + b"]" * 10_000, 10_000),
    ],
)
def test_json_depth(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
@pytest.mark.parametrize("path", ["/api/v1/fleet/enroll", "/api/v1/auth/login"])
async def test_deeply_nested_json_is_a_clear_400(
    client: AsyncTestClient[Any], path: str, opener: bytes
) -> None:
    closer = b"]" if opener == b"[" else b"}"
    body = b'{"token": ' + opener * 10_000 + b"1" + closer * 10_000 + b"}"
    response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert "nested" in response.json()["message"]


async def test_nesting_just_under_the_limit_is_decoded(
    client: AsyncTestClient[Any], owner: Account
) -> None:
    deep = "[" * (MAX_JSON_DEPTH - 2) + "]" * (MAX_JSON_DEPTH - 2)
    body = '{"name": "cam", "tags": ' + deep + "}"
    response = await client.post(
        "/api/v1/fleet",
        content=body.encode(),
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400  # a schema error (tags are strings), not a depth error
    assert "nested" not in response.json()["message"]
