"""Secret query parameters never reach the log (table-driven on :func:`redact` and the filter
on a record shaped like uvicorn's)."""

from __future__ import annotations

import logging

import pytest

from aios.controlplane.log_redaction import RedactTokens, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/api/v1/ws?token={JWT}", "/api/v1/ws?token=[redacted]"),
        (f"/x?a=1&token={JWT}&b=2", "/x?a=1&token=[redacted]&b=2"),
        (f"/x?ACCESS_TOKEN={JWT}", "/x?ACCESS_TOKEN=[redacted]"),
        ("/x?refresh_token=abc", "/x?refresh_token=[redacted]"),
        ("/x?tokens=keep&mytoken=keep", "/x?tokens=keep&mytoken=keep"),
        ("/api/v1/fleet?limit=10", "/api/v1/fleet?limit=10"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_filter_rewrites_uvicorn_style_records() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", f"/api/v1/ws?token={JWT}"), None,
    )  # fmt: skip
    assert RedactTokens().filter(record)
    assert JWT not in record.getMessage()
    assert "token=[redacted]" in record.getMessage()
