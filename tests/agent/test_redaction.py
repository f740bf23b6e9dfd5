"""Credentials out of camera URIs and of any text that quotes one."""

from __future__ import annotations

import msgspec
import pytest

from aios.agent.sources.redaction import redact, scrub
from aios.shared.pipeline import SourceParams


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
        ("rtsp://admin:hunter2@cam/live", "rtsp://admin:***@cam/live"),
        ("rtsp://cam.local/live", "rtsp://cam.local/live"),
        ("rtsp://admin@cam/live", "rtsp://admin@cam/live"),
        ("http://u:p%40ss@cam/mjpg", "http://u:***@cam/mjpg"),
    ],
)
def test_redact(uri: str, expected: str) -> None:
    assert redact(uri) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "cannot open rtsp://admin:hunter2@10.0.0.5:554/live: timeout",
            "cannot open rtsp://admin:***@10.0.0.5:554/live: timeout",
        ),
        (  # an unescaped '@' in the password: masked up to the host's '@'
            "x rtsp://admin:p@ss:w0rd@10.0.0.5/s y",
            "x rtsp://admin:***@10.0.0.5/s y",
        ),
        (
            "two: rtsp://a:b@h1/x and http://c:d@h2/y",
            "two: rtsp://a:***@h1/x and http://c:***@h2/y",
        ),
        ("no credentials: rtsp://h/x, a:b@c", "no credentials: rtsp://h/x, a:b@c"),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_a_source_without_a_transport_encodes_as_before() -> None:
    """Agents that predate ``transport`` reject unknown fields: it is only sent when set."""
    plain = msgspec.json.encode(SourceParams(kind="rtsp", uri="rtsp://cam/live"))
    assert b"transport" not in plain
    udp = SourceParams(kind="rtsp", uri="rtsp://cam/live", transport="udp")
    decoded = msgspec.json.decode(msgspec.json.encode(udp), type=SourceParams)
    assert decoded.transport == "udp"
