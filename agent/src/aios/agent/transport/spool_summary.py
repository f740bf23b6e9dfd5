"""A read-only look at a spool file, for ``aios-agent status`` while the agent may be running.

Opens the SQLite file with ``mode=ro`` (never creates or migrates it; WAL readers do not block
the agent's writer). The table names are those of :mod:`aios.agent.transport.spool`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from aios.agent.errors import TransportError
from aios.agent.transport.spool import Priority


@dataclass(frozen=True, slots=True)
class SpoolSummary:
    depth: int
    bytes: int
    dropped_detections: int
    dropped_events: int
    max_seq: int | None


def read_spool_summary(path: Path) -> SpoolSummary | None:
    """What is waiting in the spool at ``path`` and what was dropped; ``None`` if no spool."""
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            depth, size = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox"
            ).fetchone()
            (max_seq,) = db.execute(
                "SELECT MAX(seq) FROM outbox WHERE priority = ?", (int(Priority.DETECTIONS),)
            ).fetchone()
            counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise TransportError(f"cannot read spool {path}: {exc}") from None
    return SpoolSummary(
        depth=int(depth),
        bytes=int(size),
        dropped_detections=int(counters.get(f"dropped_{Priority.DETECTIONS.name.lower()}", 0)),
        dropped_events=int(counters.get(f"dropped_{Priority.EVENTS.name.lower()}", 0)),
        max_seq=None if max_seq is None else int(max_seq),
    )
