"""Encoding and decoding of wire messages.

:func:`decode_message` is the one place untrusted bytes become messages. It never raises: it
returns either a typed message or a :class:`Rejection` saying why the bytes were refused, so a
consumer can count and dead-letter bad input without a try/except around every call.

Bounds: the size (``max_bytes``), the nesting depth (JSON nested deeper than :data:`MAX_DEPTH`
is ``too_deep``, checked before decoding, so neither a ``RecursionError`` nor a raised recursion
limit can reach the decoder), and every field's value (see :mod:`aios.shared.messages`). Any
other failure of the decoder is a ``wrong_schema`` rejection: nothing escapes.
"""

from __future__ import annotations

import enum
from itertools import accumulate

import msgspec
from msgspec import Struct

from aios.shared.enrollment import Enrollment, EnrollRequest
from aios.shared.live import LIVE_SCHEMA_VERSION, LiveMessage
from aios.shared.messages import MESSAGE_TYPES, SCHEMA_VERSION, Message, message_type
from aios.shared.topics import Channel

DEFAULT_MAX_BYTES = 256 * 1024
MAX_DEPTH = 32  # the deepest message of the contract (a pipeline config) nests about 8 levels

# keep only brackets: openers become +1, closers -1 (0xff read as a signed byte)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")

CHANNEL_TYPES: dict[Channel, str] = {
    Channel.STATUS: "status",
    Channel.HEARTBEAT: "heartbeat",
    Channel.DETECTIONS: "detections",
    Channel.EVENTS: "event",
    Channel.CONFIG_DESIRED: "pipeline_config",
    Channel.CONFIG_REPORTED: "pipeline_report",
    Channel.ACK: "ingest_ack",
}
CHANNEL_OF_TYPE: dict[str, Channel] = {t: c for c, t in CHANNEL_TYPES.items()}


class RejectReason(str, enum.Enum):
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    WRONG_SCHEMA = "wrong_schema"
    UNKNOWN_TYPE = "unknown_type"
    FUTURE_VERSION = "future_version"
    WRONG_CHANNEL = "wrong_channel"
    TOO_DEEP = "too_deep"


class Rejection(Struct, frozen=True, kw_only=True):
    """Why some bytes were not accepted as a message."""

    reason: RejectReason
    detail: str
    message_type: str | None = None


class _Envelope(Struct):
    """Just enough of any message to classify it; every other field is ignored."""

    type: str
    v: int = SCHEMA_VERSION


_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[Message] = msgspec.json.Decoder(Message)
_ENVELOPE = msgspec.json.Decoder(_Envelope)


def encode(msg: Message) -> bytes:
    """JSON bytes of a message."""
    return _ENCODER.encode(msg)


def channel_for(msg: Message) -> Channel:
    """The topic channel a message travels on."""
    return CHANNEL_OF_TYPE[message_type(msg)]


def decode_message(
    data: bytes | bytearray | memoryview,
    *,
    channel: Channel | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Message | Rejection:
    """Decode untrusted bytes into a message, or say why not. Never raises.

    With ``channel``, a message whose type does not belong on that channel is rejected.
    """
    try:
        return _decode(data, channel, max_bytes)
    except RecursionError:
        return Rejection(reason=RejectReason.TOO_DEEP, detail="JSON nested too deeply")
    except Exception as exc:  # the contract: untrusted bytes never raise out of here
        return Rejection(
            reason=RejectReason.WRONG_SCHEMA, detail=f"undecodable: {type(exc).__name__}"
        )


def _decode(
    data: bytes | bytearray | memoryview, channel: Channel | None, max_bytes: int
) -> Message | Rejection:
    if len(data) > max_bytes:
        return Rejection(
            reason=RejectReason.TOO_LARGE, detail=f"{len(data)} bytes exceeds limit of {max_bytes}"
        )
    if _too_deep(data):
        return Rejection(
            reason=RejectReason.TOO_DEEP, detail=f"JSON nested over {MAX_DEPTH} levels"
        )
    try:
        msg = _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _classify(data)
    except RecursionError:  # msgspec recurses per nesting level
        return Rejection(reason=RejectReason.TOO_DEEP, detail="JSON nested too deeply")
    if msg.v > SCHEMA_VERSION:
        return Rejection(
            reason=RejectReason.FUTURE_VERSION,
            detail=f"schema version {msg.v} is newer than supported {SCHEMA_VERSION}",
            message_type=message_type(msg),
        )
    if channel is not None and CHANNEL_TYPES[channel] != message_type(msg):
        return Rejection(
            reason=RejectReason.WRONG_CHANNEL,
            detail=f"a {message_type(msg)!r} message does not belong on channel {channel.value!r}",
            message_type=message_type(msg),
        )
    return msg


def _too_deep(data: bytes | bytearray | memoryview) -> bool:
    """Whether the brackets nest deeper than :data:`MAX_DEPTH` (brackets inside strings count
    too: a message can only make itself look deeper, never another one). Linear in the number
    of brackets, and nothing at all for a message with fewer brackets than the limit."""
    brackets = bytes(data).translate(_BRACKETS, _NOT_BRACKETS)
    if len(brackets) <= MAX_DEPTH:
        return False
    return max(accumulate(memoryview(brackets).cast("b"))) > MAX_DEPTH


def _classify(data: bytes | bytearray | memoryview) -> Rejection:
    """Explain why the fast decode failed."""
    try:
        envelope = _ENVELOPE.decode(data)
    except msgspec.ValidationError as exc:
        return Rejection(reason=RejectReason.WRONG_SCHEMA, detail=f"not a message envelope: {exc}")
    except msgspec.DecodeError as exc:
        return Rejection(reason=RejectReason.NOT_JSON, detail=str(exc))
    if envelope.type not in MESSAGE_TYPES:
        return Rejection(
            reason=RejectReason.UNKNOWN_TYPE,
            detail=f"unknown message type {envelope.type[:64]!r}",
            message_type=envelope.type[:64],
        )
    if envelope.v > SCHEMA_VERSION:
        return Rejection(
            reason=RejectReason.FUTURE_VERSION,
            detail=f"schema version {envelope.v} is newer than supported {SCHEMA_VERSION}",
            message_type=envelope.type,
        )
    try:
        msgspec.json.decode(data, type=MESSAGE_TYPES[envelope.type])
    except msgspec.ValidationError as exc:
        return Rejection(
            reason=RejectReason.WRONG_SCHEMA, detail=str(exc), message_type=envelope.type
        )
    return Rejection(
        reason=RejectReason.WRONG_SCHEMA, detail="undecodable", message_type=envelope.type
    )


def contract_schema() -> dict[str, object]:
    """The JSON schema of the whole contract (pinned by a contract test): every MQTT message,
    the agent-to-cloud HTTP bodies (enrollment) and the live WebSocket messages."""
    schemas, components = msgspec.json.schema_components(
        [Message, Rejection, EnrollRequest, Enrollment, LiveMessage],
        ref_template="#/$defs/{name}",
    )
    message, rejection, enroll_request, enrollment, live = schemas
    return {
        "schema_version": SCHEMA_VERSION,
        "live_schema_version": LIVE_SCHEMA_VERSION,
        "message": message,
        "rejection": rejection,
        "http": {"enroll_request": enroll_request, "enrollment": enrollment},
        "live": live,
        "$defs": components,
    }
