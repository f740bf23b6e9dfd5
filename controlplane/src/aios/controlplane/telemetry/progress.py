"""Per-device completeness of the detection-batch ``seq`` stream, kept in ``ingest_state``.

Written in the ingest flush's transaction (:mod:`aios.controlplane.telemetry.store`): rows are
created if missing and locked while read and written back, so that concurrent ingest replicas
never lose counts. On PostgreSQL through the set-based statements of
:mod:`~aios.controlplane.telemetry.pg_statements` (``driver``), elsewhere through SQLAlchemy.
The arithmetic is :class:`~aios.controlplane.telemetry.sequence.SeqProgress`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aios.controlplane.db.bulk import update_rows
from aios.controlplane.db.models import IngestState
from aios.controlplane.db.storage.dialect import conflict_insert
from aios.controlplane.telemetry import pg_statements
from aios.controlplane.telemetry.records import DeadLetterRow
from aios.controlplane.telemetry.sequence import SeqProgress


async def track_progress(
    conn: AsyncConnection,
    driver: pg_statements.Driver | None,
    owners: dict[tuple[str, int], str],
    new: set[tuple[str, int]],
    repeated: Counter[str],
) -> None:
    """Update the completeness of every device that sent a batch (``owners``: ``(device, seq)``
    to its organization; ``new``: the keys stored now, the others are duplicates)."""
    now = datetime.now(UTC)
    devices = {d: org_id for (d, _), org_id in owners.items()}
    if driver is not None:
        progress = await pg_statements.lock_ingest_state(driver, devices, now)
    else:
        progress = await _lock_progress(conn, devices, now)
    for device_id, seq in sorted(owners):
        p = progress[device_id]
        if (device_id, seq) in new:
            p.add(seq)
        else:
            p.duplicates += 1
    for device_id, n in repeated.items():
        progress[device_id].duplicates += n
    if driver is not None:
        await pg_statements.save_ingest_state(driver, progress, now)
        return
    await update_rows(
        conn,
        IngestState,
        ["device_id"],
        [
            {
                "device_id": d,
                "first_seq": p.first_seq,
                "contiguous_seq": p.contiguous_seq,
                "max_seq": p.max_seq,
                "received": p.received,
                "duplicates": p.duplicates,
                "gaps": p.gaps,
                "updated_at": now,
            }
            for d, p in progress.items()
        ],
    )


async def settle_refused(
    conn: AsyncConnection, driver: pg_statements.Driver | None, dead: Sequence[DeadLetterRow]
) -> None:
    """Count the batches the database refused (now dead letters) as received: they reached
    the control plane, and no resend can store them (the acknowledgement confirms them)."""
    settled = {
        (d.device_id, d.settles_seq): d.org_id
        for d in dead
        if d.settles_seq is not None and d.device_id is not None and d.org_id is not None
    }
    if settled:
        await track_progress(conn, driver, settled, set(settled), Counter())


async def _lock_progress(
    conn: AsyncConnection, devices: dict[str, str], now: datetime
) -> dict[str, SeqProgress]:
    """Create the missing ``ingest_state`` rows, then read them all locked (SQLite path)."""
    await conn.execute(
        conflict_insert(conn.dialect, IngestState).on_conflict_do_nothing(),
        [
            {
                "device_id": d,
                "org_id": o,
                "first_seq": -1,
                "contiguous_seq": -1,
                "max_seq": -1,
                "received": 0,
                "duplicates": 0,
                "gaps": [],
                "updated_at": now,
            }
            for d, o in sorted(devices.items())
        ],
    )
    rows = await conn.execute(
        stored_progress(devices).order_by(IngestState.device_id).with_for_update()
    )
    return {r.device_id: SeqProgress.stored(r) for r in rows}


def stored_progress(
    devices: Collection[str],
) -> Select[str, int, int, int, int, int, list[list[int]]]:
    """The device id and stored detection-sequence progress of each of ``devices``."""
    return select(
        IngestState.device_id,
        IngestState.first_seq,
        IngestState.contiguous_seq,
        IngestState.max_seq,
        IngestState.received,
        IngestState.duplicates,
        IngestState.gaps,
    ).where(IngestState.device_id.in_(devices))
