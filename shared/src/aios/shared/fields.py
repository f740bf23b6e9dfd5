"""Field types of the contract that several messages, the pipeline spec and both sides share.

Each is written here once and imported everywhere else (messages, pipeline nodes, topics, the
agent's config, the control plane's schemas), so the identifier rule or the list of severities
cannot drift between two copies.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

IDENTIFIER_RE = r"[A-Za-z0-9_.\-]{1,64}"
"""An organization, device, stream, pipeline or node id: 1-64 characters of ``[A-Za-z0-9_.-]``,
so it never holds an MQTT wildcard or separator. Unanchored: match it with ``re.fullmatch``
(Python's ``$`` also matches before a final ``"\\n"``)."""

# Python's "$" also matches before a final "\n": "(?!\n)" anchors at the true end (and is
# a no-op in JSON Schema's ECMA-262 regexes, where "$" already means the end).
Identifier = Annotated[str, Meta(pattern=rf"^{IDENTIFIER_RE}$(?!\n)")]
EventType = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$(?!\n)")]
"""An event's type (``person_loitering``): lower case, digits and ``_``, starting with a letter."""

Unit = Annotated[float, Meta(ge=0.0, le=1.0)]
"""A fraction: a normalized coordinate, a confidence, a threshold."""

Severity = Literal["info", "warning", "critical"]
EventPhase = Literal["instant", "start", "update", "end"]
"""An event's place in its episode: ``instant`` (no lifecycle), or ``start`` -> ``update``... ->
``end``, all three sharing the event id."""
ReportStatus = Literal["applying", "applied", "rejected", "failed", "rolled_back"]
"""What an agent did with a desired pipeline config (``PipelineReport.status``)."""
DeviceState = Literal["online", "offline"]
"""A device's retained ``status`` (``offline`` is also its MQTT last will)."""
