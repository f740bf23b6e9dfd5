"""REST shapes of the dashboard's events."""

from __future__ import annotations

from datetime import datetime

import msgspec


class EventItem(msgspec.Struct, frozen=True, kw_only=True):
    """One event (a start/update/end lifecycle folded into one row)."""

    id: str
    device_id: str
    stream_id: str
    event_type: str
    severity: str
    phase: str
    started_at: datetime
    last_ts: datetime
    ended_at: datetime | None
    rule_id: str | None
    zone_id: str | None
    line_id: str | None
    track_ids: list[int]
    attributes: dict[str, str | int | float | bool]
    pipeline_version: int | None
    snapshot_url: str | None = None


class EventPage(msgspec.Struct, frozen=True, kw_only=True):
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    items: list[EventItem]
    next_cursor: str | None


class SnapshotStored(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    size: int
