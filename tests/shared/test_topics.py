from __future__ import annotations

import pytest

from aios.shared.errors import TopicError
from aios.shared.topics import Channel, Topic, build_topic, parse_topic, subscription


@pytest.mark.parametrize("channel", list(Channel))
@pytest.mark.parametrize("prefix", ["aios", "aiostest/ab12cd"])
def test_build_then_parse_round_trips(channel: Channel, prefix: str) -> None:
    topic = build_topic("org-1", "cam_gw.7", channel, prefix=prefix)
    assert topic == f"{prefix}/v1/org-1/cam_gw.7/{channel.value}"
    assert parse_topic(topic, prefix=prefix) == Topic("org-1", "cam_gw.7", channel, prefix)


@pytest.mark.parametrize(
    ("org", "device"),
    [("", "d"), ("o", ""), ("o/x", "d"), ("o", "d+"), ("o", "#"), ("o", "x" * 65), ("o", "a b")],
)
def test_build_refuses_bad_identifiers(org: str, device: str) -> None:
    with pytest.raises(TopicError):
        build_topic(org, device, Channel.DETECTIONS)


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/o/d/det",
        "aios/v2/o/d/det",
        "aios/v1/o/d",
        "aios/v1/o/d/nope",
        "aios/v1/o/d/cfg/other",
        "aios/v1/o/d+/det",
        "aios/v1//d/det",
    ],
)
def test_parse_refuses_foreign_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(topic)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "aios/v1/+/+/det"),
        ({"org_id": "o1"}, "aios/v1/o1/+/det"),
        ({"org_id": "o1", "device_id": "d1"}, "aios/v1/o1/d1/det"),
        ({"share_group": "aios-ingest"}, "$share/aios-ingest/aios/v1/+/+/det"),
    ],
)
def test_subscription_filters(kwargs: dict[str, str], expected: str) -> None:
    assert subscription(Channel.DETECTIONS, **kwargs) == expected
