"""The on-disk outbox: SQLite in WAL mode, bounded by a byte budget.

A message is written here before it is published, so it survives a broker outage, a lost
network, and the agent being killed. It leaves in one of two ways:

* numbered messages (detection batches and events, which carry a ``seq``) stay after the
  broker's PUBACK (:meth:`Spool.ack` only marks them ``sent``) until the control plane confirms
  it stored them (:meth:`Spool.confirm`, from an :class:`~aios.shared.messages.IngestAck`);
  :meth:`Spool.requeue` puts those left unconfirmed too long back in line to be sent again.
  Until the control plane has been seen acknowledging once (a persistent flag,
  :attr:`Spool.confirming`), an older control plane that never does is assumed:
  :meth:`Spool.forget_sent` drops what the broker took long enough ago, uncounted (the
  behaviour before acknowledgements existed, only later).
* every other message leaves on the PUBACK.

When the budget is exceeded the oldest detections go first, then the oldest events, whether
sent or not; every drop is counted, and the counts persist with the spool. A dropped message
that had reached the broker may still be stored: its seq is remembered (a tombstone, at most
:data:`MAX_TOMBSTONES`) and a later confirmation takes it back off the drop count, so the
count is what the control plane will never have.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from aios.agent.errors import TransportError
from aios.shared.messages import SeqAck

MAX_TOMBSTONES = 100_000


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
CREATE TABLE IF NOT EXISTS tombstones (
    priority INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (priority, seq)
);
"""
_AFTER_SENT = """
CREATE INDEX IF NOT EXISTS outbox_seq ON outbox (priority, seq);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (id) WHERE sent IS NULL;
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sent) WHERE sent IS NOT NULL;
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
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(outbox)")}
            if "sent" not in columns:  # a spool written before acknowledgements existed
                self._db.execute("ALTER TABLE outbox ADD COLUMN sent REAL")
            self._db.executescript(_AFTER_SENT)
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
        except sqlite3.Error as exc:
            raise TransportError(f"cannot open spool {path}: {exc}") from None
        self._depth, self._bytes = int(row[0]), int(row[1])
        self._dropped = {p: self._counter(f"dropped_{p.name.lower()}") for p in Priority}
        self._confirming = self._counter("confirming") > 0

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
                    "SELECT id, size, seq, sent FROM outbox"
                    " WHERE priority = ? ORDER BY id LIMIT 64",
                    (int(priority),),
                ).fetchall()
                if not rows:
                    break
                victims: list[int] = []
                sent: list[tuple[int, int]] = []
                for row_id, size, seq, sent_at in rows:
                    if self._bytes <= self.max_bytes:
                        break
                    victims.append(int(row_id))
                    self._bytes -= int(size)
                    if seq is not None and sent_at is not None:
                        sent.append((int(priority), int(seq)))
                self._db.executemany("DELETE FROM outbox WHERE id = ?", [(v,) for v in victims])
                if sent:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO tombstones (priority, seq) VALUES (?, ?)", sent
                    )
                self._depth -= len(victims)
                drops[priority] = drops.get(priority, 0) + len(victims)
        self._count_drops(drops)
        (tombstones,) = self._db.execute("SELECT COUNT(*) FROM tombstones").fetchone()
        if int(tombstones) > MAX_TOMBSTONES:  # forget the oldest: they stay counted as dropped
            self._db.execute(
                "DELETE FROM tombstones WHERE rowid IN"
                " (SELECT rowid FROM tombstones ORDER BY rowid LIMIT ?)",
                (int(tombstones) - MAX_TOMBSTONES,),
            )

    def _count_drops(self, drops: dict[Priority, int]) -> None:
        for priority, n in drops.items():
            if n:
                self._dropped[priority] += n
                self._set_counter(f"dropped_{priority.name.lower()}", self._dropped[priority])

    def _set_counter(self, name: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def pending(self, *, after_id: int = 0, limit: int = 64) -> list[SpooledMessage]:
        """Oldest first, ids greater than ``after_id``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, topic, payload, qos, retain FROM outbox"
                " WHERE id > ? AND sent IS NULL ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [
            SpooledMessage(
                id=int(r[0]), topic=str(r[1]), payload=bytes(r[2]), qos=int(r[3]), retain=bool(r[4])
            )
            for r in rows
        ]

    def ack(self, row_id: int) -> None:
        """The broker has the message (its PUBACK): a numbered message waits for the control
        plane's confirmation (see the module docstring), any other is forgotten. A no-op if it
        was already evicted or confirmed."""
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT size, seq FROM outbox WHERE id = ?", (row_id,)
                ).fetchone()
                if row is None:
                    return
                if row[1] is not None:
                    self._db.execute(
                        "UPDATE outbox SET sent = ? WHERE id = ?", (time.time(), row_id)
                    )
                    return
                self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            except sqlite3.Error as exc:
                raise TransportError(f"spool {self.path}: delete failed: {exc}") from None
            self._depth -= 1
            self._bytes -= int(row[0])

    def confirm(self, priority: Priority, ack: SeqAck) -> int:
        """Forget the messages of ``priority`` that ``ack`` says are stored (and take their
        tombstones off the drop count); how many left the spool."""
        if ack.first < 0:
            return 0
        with self._lock:
            try:
                if not self._confirming:
                    self._confirming = True
                    self._set_counter("confirming", 1)
                return self._confirm(int(priority), ack)
            except sqlite3.Error as exc:
                raise TransportError(f"spool {self.path}: confirm failed: {exc}") from None

    def _confirm(self, priority: int, ack: SeqAck) -> int:
        where = "priority = ? AND seq BETWEEN ? AND ?"
        count, size = self._db.execute(
            f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox WHERE {where}",
            (priority, ack.first, ack.contiguous),
        ).fetchone()
        self._db.execute(f"DELETE FROM outbox WHERE {where}", (priority, ack.first, ack.contiguous))
        removed, freed = int(count), int(size)
        revived = self._db.execute(
            f"DELETE FROM tombstones WHERE {where}", (priority, ack.first, ack.contiguous)
        ).rowcount
        if ack.upto > ack.contiguous:
            args = (priority, ack.contiguous + 1, ack.upto)
            above = self._db.execute(
                f"SELECT id, seq, size FROM outbox WHERE {where}", args
            ).fetchall()
            done = [(int(i), int(z)) for i, s, z in above if ack.stored(int(s))]
            self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i, _ in done])
            removed += len(done)
            freed += sum(z for _, z in done)
            ghosts = self._db.execute(f"SELECT seq FROM tombstones WHERE {where}", args).fetchall()
            back = [(priority, int(s)) for (s,) in ghosts if ack.stored(int(s))]
            self._db.executemany("DELETE FROM tombstones WHERE priority = ? AND seq = ?", back)
            revived += len(back)
        self._depth -= removed
        self._bytes -= freed
        if revived:
            kind = Priority(priority)
            self._dropped[kind] = max(0, self._dropped[kind] - revived)
            self._set_counter(f"dropped_{kind.name.lower()}", self._dropped[kind])
        return removed

    def requeue(self, *, sent_before: float, limit: int) -> list[int]:
        """Put back in line (oldest first, at most ``limit``) the messages the broker took
        before ``sent_before`` that are still unconfirmed; their row ids."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT id FROM outbox WHERE sent IS NOT NULL AND sent < ? ORDER BY id LIMIT ?",
                    (sent_before, limit),
                ).fetchall()
                ids = [int(r[0]) for r in rows]
                self._db.executemany(
                    "UPDATE outbox SET sent = NULL WHERE id = ?", [(i,) for i in ids]
                )
            except sqlite3.Error as exc:
                raise TransportError(f"spool {self.path}: requeue failed: {exc}") from None
        return ids

    def forget_sent(self, *, sent_before: float) -> int:
        """Delete what the broker took before ``sent_before`` (no control plane seen
        confirming yet: see the module docstring); how many."""
        with self._lock:
            try:
                count, size = self._db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox"
                    " WHERE sent IS NOT NULL AND sent < ?",
                    (sent_before,),
                ).fetchone()
                self._db.execute(
                    "DELETE FROM outbox WHERE sent IS NOT NULL AND sent < ?", (sent_before,)
                )
            except sqlite3.Error as exc:
                raise TransportError(f"spool {self.path}: delete failed: {exc}") from None
            self._depth -= int(count)
            self._bytes -= int(size)
        return int(count)

    @property
    def confirming(self) -> bool:
        """Whether the control plane has been seen acknowledging (see the module docstring)."""
        return self._confirming

    def unconfirmed(self) -> int:
        """Messages the broker took that the control plane has not confirmed yet."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM outbox WHERE sent IS NOT NULL").fetchone()
        return int(row[0])

    def max_seq(self, priority: Priority = Priority.DETECTIONS) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(seq) FROM outbox WHERE priority = ?", (int(priority),)
            ).fetchone()
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
