"""Hostile input against the one door for untrusted bytes.

Every value here is one the database cannot store (or the decoder could not survive), sent as
an otherwise valid message: the contract must refuse it as a :class:`Rejection`, so that no
storage backend ever sees it. A generated fuzz run then asserts that ``decode_message`` returns
a message or a rejection for any bytes or JSON whatsoever, and never raises.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aios.shared.codec import Rejection, RejectReason, decode_message
from aios.shared.messages import MESSAGE_TYPES, Message

T = 1_700_000_000.0


def _batch(**over: Any) -> dict[str, Any]:
    det = {"class_id": 0, "label": "person", "confidence": 0.9, "xyxy": [0.1, 0.1, 0.2, 0.2]}
    det.update(over.pop("det", {}))
    frame = {"ts": T, "frame_index": 1, "width": 640, "height": 480, "detections": [det]}
    frame.update(over.pop("frame", {}))
    msg = {
        "type": "detections",
        "device_id": "dev-1",
        "stream_id": "cam",
        "pipeline_version": 1,
        "seq": 1,
        "frames": [frame],
    }
    msg.update(over)
    return msg


def _event(**over: Any) -> dict[str, Any]:
    msg = {
        "type": "event",
        "id": "e1",
        "event_type": "intrusion",
        "severity": "warning",
        "device_id": "dev-1",
        "stream_id": "cam",
        "ts": T,
    }
    msg.update(over)
    return msg


def _heartbeat(**over: Any) -> dict[str, Any]:
    msg = {"type": "heartbeat", "device_id": "dev-1", "ts": T, "uptime_s": 1.0}
    msg.update({"agent_version": "0.1.0", **over})
    return msg


def _report(**over: Any) -> dict[str, Any]:
    msg = {
        "type": "pipeline_report",
        "device_id": "dev-1",
        "pipeline_id": "p1",
        "version": 1,
        "status": "applied",
        "ts": T,
    }
    msg.update(over)
    return msg


YEAR_10000 = 253_402_300_800.0  # 10000-01-01T00:00:00Z
HUGE = "__1e400__"  # written as the JSON number 1e400 (a float decoder reads it as infinity)


def _json(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg).replace(f'"{HUGE}"', "1e400").encode()


FAILED_STREAM = {"stream_id": "c", "state": "failed", "error": "x" * 3000}

# (name, message): each is valid JSON of a known type whose one hostile value the database
# would refuse (or that would crash the decoder)
HOSTILE: list[tuple[str, dict[str, Any]]] = [
    ("event ts 1e300", _event(ts=1e300)),
    ("event ts year 10000", _event(ts=YEAR_10000)),
    ("event ts before 2000", _event(ts=-1.0)),
    ("event rule_id longer than its column", _event(rule_id="r" * 129)),
    ("event zone_id longer than its column", _event(zone_id="z" * 129)),
    ("event snapshot longer than its column", _event(snapshot="s" * 513)),
    ("event pipeline_version 2^40", _event(pipeline_version=2**40)),
    ("event track id 2^64", _event(track_ids=[2**64 - 1])),
    ("event NUL in id", _event(id="e\x00")),
    ("event NUL in attribute value", _event(attributes={"k": "v\x00"})),
    ("event NUL in attribute key", _event(attributes={"k\x00": 1})),
    ("event attribute 1e400", _event(attributes={"k": HUGE})),
    ("event 100k attributes", _event(attributes={f"k{i}": i for i in range(100_000)})),
    ("frame ts 1e300", _batch(frame={"ts": 1e300})),
    ("frame ts year 10000", _batch(frame={"ts": YEAR_10000})),
    ("frame index 2^64", _batch(frame={"frame_index": 2**64 - 1})),
    ("class_id 2^40", _batch(det={"class_id": 2**40})),
    ("pipeline_version 2^40", _batch(pipeline_version=2**40)),
    ("seq 2^63", _batch(seq=2**63)),
    ("track_id 2^63", _batch(det={"track_id": 2**63})),
    ("NUL in label", _batch(det={"label": "per\x00son"})),
    ("label longer than its column", _batch(det={"label": "l" * 257})),
    ("heartbeat temperature 1e400", _heartbeat(temperature_c=HUGE)),
    ("heartbeat cpu 1e400", _heartbeat(cpu_percent=HUGE)),
    ("heartbeat pipeline_version 2^40", _heartbeat(pipeline_version=2**40)),
    ("heartbeat NUL in agent_version", _heartbeat(agent_version="0.1\x00")),
    ("heartbeat stream error 3 KB", _heartbeat(streams=[FAILED_STREAM])),
    ("heartbeat ts year 10000", _heartbeat(ts=YEAR_10000)),
    ("report version 2^40", _report(version=2**40)),
    ("report NUL in error", _report(error="bad\x00")),
    ("report node longer than its column", _report(node="n" * 129)),
    ("report ts 1e300", _report(ts=1e300)),
    ("status ts 1e300", {"type": "status", "device_id": "dev-1", "state": "online", "ts": 1e300}),
]


def test_the_hostile_table_is_otherwise_valid() -> None:
    """Each builder alone makes an accepted message: the table tests only the hostile value."""
    for msg in (_event(), _batch(), _heartbeat(), _report()):
        assert not isinstance(decode_message(json.dumps(msg).encode()), Rejection), msg


@pytest.mark.parametrize(("name", "msg"), HOSTILE, ids=[n for n, _ in HOSTILE])
def test_hostile_values_are_rejected(name: str, msg: dict[str, Any]) -> None:
    data = _json(msg)
    out = decode_message(data, max_bytes=len(data) + 1)
    assert isinstance(out, Rejection), f"{name}: accepted {out!r}"
    assert out.reason is RejectReason.WRONG_SCHEMA
    assert out.message_type == msg["type"]


@pytest.mark.parametrize("depth", [100, 1_000, 100_000])
@pytest.mark.parametrize(
    ("open_", "close"),
    [(b'{"type":"event","a":', b"}"), (b"[", b"]"), (b'{"a":', b"}"), (b'{"attributes":[', b"]}")],
)
def test_deep_nesting_is_a_rejection(depth: int, open_: bytes, close: bytes) -> None:
    data = open_ * depth + b"1" + close * depth
    out = decode_message(data, max_bytes=len(data) + 1)
    assert isinstance(out, Rejection)
    if depth >= 1_000:
        assert out.reason in (RejectReason.TOO_DEEP, RejectReason.WRONG_SCHEMA)


def test_deep_nesting_inside_a_known_message() -> None:
    data = json.dumps(_event())[:-1].encode() + b', "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    out = decode_message(data, max_bytes=len(data) + 1)
    assert isinstance(out, Rejection)
    assert out.reason is RejectReason.TOO_DEEP


def _check(data: bytes) -> None:
    out = decode_message(data, max_bytes=1 << 20)
    assert isinstance(out, Rejection | Message), type(out)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from([*MESSAGE_TYPES, "type", "v", "ts", "seq", "frames", "id", "x"])
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.sampled_from(sorted(MESSAGE_TYPES)))
def test_arbitrary_json_never_raises(value: Any, tag: str) -> None:
    _check(json.dumps(value).encode())
    if isinstance(value, dict):  # the same, as a message of a known type
        _check(json.dumps({**value, "type": tag}).encode())


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([b"[", b'{"a":', b'{"type":"detections","frames":[']),
    st.integers(min_value=0, max_value=20_000),
)
def test_generated_nesting_never_raises(open_: bytes, depth: int) -> None:
    _check(open_ * depth)
    _check(open_ * depth + b"0")


def test_depth_is_bounded_before_decoding_whatever_the_recursion_limit() -> None:
    ok = json.dumps(_event(attributes={})).encode()[:-1] + b', "x": ' + b"[" * 30 + b"]" * 30 + b"}"
    assert not isinstance(decode_message(ok), Rejection)  # unknown field, 31 levels: fine
    deep = ok.replace(b"[" * 30, b"[" * 40).replace(b"]" * 30, b"]" * 40)
    out = decode_message(deep)
    assert isinstance(out, Rejection)
    assert out.reason is RejectReason.TOO_DEEP
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000_000)  # a process that raised it: the check does not depend on it
    try:
        huge = b"[" * 200_000
        out = decode_message(huge, max_bytes=len(huge))
    finally:
        sys.setrecursionlimit(limit)
    assert isinstance(out, Rejection)
    assert out.reason is RejectReason.TOO_DEEP


def test_a_full_detection_batch_is_not_too_deep() -> None:
    dets = [{"class_id": 0, "label": "[person]", "confidence": 0.5, "xyxy": [0, 0, 1, 1]}] * 3000
    batch = _batch()
    batch["frames"][0]["detections"] = dets
    assert not isinstance(decode_message(json.dumps(batch).encode()), Rejection)
