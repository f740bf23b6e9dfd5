"""Reading a ``cfg/desired`` payload through the contract.

The payload goes through :func:`aios.shared.codec.decode_message`, the one door for untrusted
bytes, like every other wire message: a config from a newer control plane with fields this
agent does not know is accepted (the contract ignores unknown fields), a newer major schema
version is refused as ``future_version``, and whatever the contract rejects is refused with
its reason. A decoded config's pipeline is then validated as a graph (cycles, wiring).

A refusal is answered with a ``rejected`` report. To address that report only, the
``pipeline_id``, ``version`` and ``deployment_id`` are read from the refused payload when they
are valid; an invalid pipeline names its node and field (:func:`decode_pipeline`). Bytes that
are not a pipeline config at all (not JSON, another message type, the empty retained message
that clears the config, too large or too deep to read) are ignored: there is nothing to answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import msgspec

from aios.shared.codec import Rejection, RejectReason, decode_message
from aios.shared.errors import PipelineValidationError
from aios.shared.messages import INT32_MAX, PipelineConfig
from aios.shared.pipeline import decode_pipeline, validate_pipeline
from aios.shared.topics import Channel, is_identifier

log = logging.getLogger(__name__)

MAX_CONFIG_BYTES = 16 * 2**20
"""The largest desired (or persisted last good) config read; larger ones are ignored."""

UNKNOWN_PIPELINE = "invalid"
"""The ``pipeline_id`` a report carries when the refused payload has no valid one."""

_ANSWERED = {RejectReason.WRONG_SCHEMA, RejectReason.FUTURE_VERSION}
"""Rejections of a payload that is a pipeline config: worth a report."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A desired config the agent will not apply, and why (the ``rejected`` report's fields)."""

    pipeline_id: str
    version: int
    deployment_id: str | None
    error: str
    node: str | None = None
    field: str | None = None


def read_desired(payload: bytes) -> PipelineConfig | Refusal | None:
    """The config to apply, a refusal to report, or ``None`` when there is nothing to answer."""
    decoded = decode_message(payload, channel=Channel.CONFIG_DESIRED, max_bytes=MAX_CONFIG_BYTES)
    if isinstance(decoded, PipelineConfig):
        try:
            validate_pipeline(decoded.spec)
        except PipelineValidationError as exc:
            answer = Refusal(decoded.pipeline_id, decoded.version, decoded.deployment_id, "")
            return _invalid(answer, exc)
        return decoded
    if not isinstance(decoded, Rejection):  # the channel check admits pipeline configs only
        return None
    if decoded.reason not in _ANSWERED or decoded.message_type != "pipeline_config":
        if payload:  # the empty retained message only clears the config
            log.warning("ignoring a desired config: %s (%s)", decoded.reason.value, decoded.detail)
        return None
    return _refusal(payload, decoded)


def _refusal(payload: bytes, rejection: Rejection) -> Refusal:
    raw = msgspec.json.decode(payload)  # JSON of sane size and depth, or it was not answered
    fields = raw if isinstance(raw, dict) else {}
    pipeline_id = fields.get("pipeline_id")
    version = fields.get("version")
    deployment_id = fields.get("deployment_id")
    refusal = Refusal(
        pipeline_id=pipeline_id
        if isinstance(pipeline_id, str) and is_identifier(pipeline_id)
        else UNKNOWN_PIPELINE,
        version=version
        if isinstance(version, int) and not isinstance(version, bool) and 0 <= version <= INT32_MAX
        else 0,
        deployment_id=deployment_id
        if isinstance(deployment_id, str) and is_identifier(deployment_id)
        else None,
        error=f"{rejection.reason.value}: {rejection.detail}",
    )
    spec = fields.get("spec")
    if rejection.reason is RejectReason.WRONG_SCHEMA and isinstance(spec, dict):
        try:
            decode_pipeline(spec)
        except PipelineValidationError as exc:
            return _invalid(refusal, exc)
    return refusal


def _invalid(refusal: Refusal, exc: PipelineValidationError) -> Refusal:
    """``refusal`` naming the node and field of an invalid pipeline, as the API does."""
    return replace(refusal, error=exc.message, node=exc.node, field=exc.field)
