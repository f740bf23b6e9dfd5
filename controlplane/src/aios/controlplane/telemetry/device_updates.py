"""Device rows updated by the ingest from heartbeats and status messages.

A heartbeat sets ``last_seen_at``, the last heartbeat's contents and the agent version; a status
message sets the device's status. One executemany per kind per flush, never a row per
heartbeat in a hot table (the presence service keeps its own debounced state).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.bulk import update_rows
from aios.controlplane.db.models import Device, DeviceState
from aios.controlplane.telemetry.records import Accepted
from aios.shared.messages import DeviceStatus, Heartbeat


async def update_devices(conn: AsyncConnection, accepted: Sequence[Accepted]) -> tuple[int, int]:
    """Heartbeats and status messages update their device rows (the latest per device wins);
    returns how many heartbeats and status messages the flush had."""
    heartbeats = statuses = 0
    beats: dict[str, Accepted] = {}
    states: dict[str, Accepted] = {}
    for a in accepted:
        if isinstance(a.message, Heartbeat):
            beats[a.device_id] = a
            heartbeats += 1
        elif isinstance(a.message, DeviceStatus):
            states[a.device_id] = a
            statuses += 1
    await update_rows(
        conn,
        Device,
        ["id"],
        [
            {
                "id": d,
                "last_seen_at": a.received_at,
                "last_heartbeat": msgspec.to_builtins(a.message),
                "agent_version": getattr(a.message, "agent_version", None),
            }
            for d, a in beats.items()
        ],
        status=DeviceState.ONLINE.value,
    )
    await update_rows(
        conn,
        Device,
        ["id"],
        [
            {"id": d, "status": a.message.state, "last_seen_at": a.received_at}
            for d, a in states.items()
            if isinstance(a.message, DeviceStatus)
        ],
    )
    return heartbeats, statuses
