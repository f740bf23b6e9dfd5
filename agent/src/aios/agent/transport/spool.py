"""The on-disk outbox: SQLite in WAL mode, bounded by a byte budget.

A message is written here before it is published and deleted only when the broker
acknowledges it (:meth:`Spool.ack`), so it survives a broker outage, a lost network, and the
agent being killed. When the budget is exceeded the oldest detections go first, then the oldest
events; every drop is counted, and the counts persist with the spool.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aios.agent.errors import TransportError


class Priority(enum.IntEnum):
    """Lower priorities are dropped first when the spool is full."""

    DETECTIONS = 0
    EVENTS = 1


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    priority INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    size INTEGER NOT NULL,
    seq INTEGER,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_priority ON outbox (priority, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Spool:
    def __init__(self, path: Path, *, max_bytes: int, durable: bool = True) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
        except sqlite3.Error as exc:
            raise TransportError(f"cannot open spool {path}: {exc}") from None
        self._depth, self._bytes = int(row[0]), int(row[1])
        self._dropped = {p: self._counter(f"dropped_{p.name.lower()}") for p in Priority}

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def put(
        self,
        topic: str,
        payload: bytes,
        *,
        priority: Priority,
        qos: int = 1,
        retain: bool = False,
        seq: int | None = None,
    ) -> int | None:
        """Store a message; its row id, or ``None`` if it alone exceeds the budget (dropped)."""
        size = len(payload) + len(topic)
        with self._lock:
            try:
                if size > self.max_bytes:
                    self._count_drops({priority: 1})
                    return None
                cur = self._db.execute(
                    "INSERT INTO outbox (priority, topic, payload, qos, retain, size, seq, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (int(priority), topic, payload, qos, int(retain), size, seq, time.time()),
                )
                self._depth += 1
                self._bytes += size
                if self._bytes > self.max_bytes:
                    self._evict()
                return cur.lastrowid
            except sqlite3.Error as exc:
                raise TransportError(f"spool {self.path}: write failed: {exc}") from None

    def _evict(self) -> None:
        drops: dict[Priority, int] = {}
        for priority in Priority:
            while self._bytes > self.max_bytes:
                rows = self._db.execute(
                    "SELECT id, size FROM outbox WHERE priority = ? ORDER BY id LIMIT 64",
                    (int(priority),),
                ).fetchall()
                if not rows:
                    break
                victims: list[int] = []
                for row_id, size in rows:
                    if self._bytes <= self.max_bytes:
                        break
                    victims.append(int(row_id))
                    self._bytes -= int(size)
                self._db.executemany("DELETE FROM outbox WHERE id = ?", [(v,) for v in victims])
                self._depth -= len(victims)
                drops[priority] = drops.get(priority, 0) + len(victims)
        self._count_drops(drops)

    def _count_drops(self, drops: dict[Priority, int]) -> None:
        for priority, n in drops.items():
            if n:
                self._dropped[priority] += n
                self._db.execute(
                    "INSERT INTO counters (name, value) VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (f"dropped_{priority.name.lower()}", self._dropped[priority]),
                )

    def pending(self, *, after_id: int = 0, limit: int = 64) -> list[SpooledMessage]:
        """Oldest first, ids greater than ``after_id``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain FROM outbox"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [
            SpooledMessage(
                id=int(r[0]), topic=str(r[1]), payload=bytes(r[2]), qos=int(r[3]), retain=bool(r[4])
            )
            for r in rows
        ]

    def ack(self, row_id: int) -> None:
        """The broker has the message: forget it (a no-op if it was already evicted)."""
        with self._lock:
            try:
                row = self._db.execute("SELECT size FROM outbox WHERE id = ?", (row_id,)).fetchone()
                if row is not None:
                    self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            except sqlite3.Error as exc:
                raise TransportError(f"spool {self.path}: delete failed: {exc}") from None
            if row is not None:
                self._depth -= 1
                self._bytes -= int(row[0])

    def max_seq(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM outbox").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    @property
    def depth(self) -> int:
        return self._depth

    @property
    def bytes(self) -> int:
        return self._bytes

    def dropped(self, priority: Priority) -> int:
        return self._dropped[priority]

    def close(self) -> None:
        with self._lock:
            self._db.close()
