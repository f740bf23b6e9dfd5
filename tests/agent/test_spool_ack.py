"""The spool keeps numbered messages after the broker's PUBACK until the control plane confirms
them (an IngestAck), sends again what stays unconfirmed, and counts drops exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.agent.transport.resend import ResendClock
from aios.agent.transport.spool import Priority, Spool
from aios.shared.messages import SeqAck


def seqs(spool: Spool) -> list[int]:
    """The seqs left in the spool, sent or not (sent again to list them)."""
    spool.requeue(sent_before=float("inf"), limit=1000)
    return [int(m.payload[1:]) for m in spool.pending(limit=1000)]


def filled(tmp_path: Path, n: int, *, confirming: bool = True, max_bytes: int = 1 << 20) -> Spool:
    """A spool with ``n`` detection batches (seq 0..n-1), all PUBACKed by the broker."""
    spool = Spool(tmp_path / "s.db", max_bytes=max_bytes)
    if confirming:  # as after the control plane's first acknowledgement
        spool.confirm(Priority.DETECTIONS, SeqAck(first=-1, contiguous=-1, upto=-1))
        spool.confirm(Priority.EVENTS, SeqAck(first=0, contiguous=-1, upto=-1))
    for seq in range(n):
        row = spool.put("t/det", b"x%089d" % seq, priority=Priority.DETECTIONS, seq=seq)
        assert row is not None
        spool.ack(row)
    return spool


def test_a_pubacked_batch_stays_until_the_control_plane_confirms_it(tmp_path: Path) -> None:
    spool = filled(tmp_path, 5)
    assert spool.depth == 5, "the broker's PUBACK alone must not delete a numbered message"
    assert spool.pending() == [], "but it is not sent again right away"
    assert spool.unconfirmed() == 5
    spool.close()
    spool = Spool(tmp_path / "s.db", max_bytes=1 << 20)  # survives a restart
    assert spool.depth == 5
    assert spool.confirming


def test_without_any_confirmation_ever_what_the_broker_took_is_forgotten_later(
    tmp_path: Path,
) -> None:
    """An older control plane never acknowledges: what the broker took is forgotten after the
    timeout, uncounted, as the PUBACK did before; a first confirmation stops that."""
    spool = filled(tmp_path, 3, confirming=False)
    assert spool.depth == 3, "kept a while: the first messages of a new device are protected"
    assert not spool.confirming
    assert spool.forget_sent(sent_before=0.0) == 0
    assert spool.forget_sent(sent_before=float("inf")) == 3
    assert (spool.depth, spool.bytes, spool.dropped(Priority.DETECTIONS)) == (0, 0, 0)


@pytest.mark.parametrize(
    ("ack", "left"),
    [
        (SeqAck(first=0, contiguous=9, upto=9), []),
        (SeqAck(first=0, contiguous=4, upto=4), [5, 6, 7, 8, 9]),
        (SeqAck(first=0, contiguous=2, upto=9, missing=[(3, 4), (7, 7)]), [3, 4, 7]),
        (SeqAck(first=5, contiguous=9, upto=9), [0, 1, 2, 3, 4]),  # below first: unknown
        (SeqAck(first=-1, contiguous=-1, upto=-1), list(range(10))),
    ],
)
def test_confirm_deletes_exactly_what_is_stored(
    tmp_path: Path, ack: SeqAck, left: list[int]
) -> None:
    spool = filled(tmp_path, 10)
    spool.confirm(Priority.DETECTIONS, ack)
    assert seqs(spool) == left
    assert spool.depth == len(left)
    assert spool.bytes == sum(90 + len("t/det") for _ in left)


def test_confirmations_of_events_leave_batches_alone(tmp_path: Path) -> None:
    spool = filled(tmp_path, 3)
    row = spool.put("t/evt", b"e", priority=Priority.EVENTS, seq=0)
    assert row is not None
    spool.ack(row)
    spool.confirm(Priority.EVENTS, SeqAck(first=0, contiguous=0, upto=0))
    assert spool.depth == 3
    spool.confirm(Priority.DETECTIONS, SeqAck(first=0, contiguous=2, upto=2))
    assert spool.depth == 0


def test_requeue_sends_again_only_what_is_old_enough_oldest_first_and_bounded(
    tmp_path: Path,
) -> None:
    spool = filled(tmp_path, 10)
    assert spool.requeue(sent_before=0.0, limit=100) == [], "nothing is that old"
    ids = spool.requeue(sent_before=float("inf"), limit=4)
    assert len(ids) == 4
    assert [m.id for m in spool.pending(limit=100)] == ids == sorted(ids)
    for row in ids:  # PUBACKed again: waiting for confirmation again
        spool.ack(row)
    assert spool.pending() == []
    assert spool.depth == 10


def test_budget_drops_are_counted_and_confirmed_ones_taken_back(tmp_path: Path) -> None:
    """Budget for 10 messages: 15 sent, 5 evicted. Three of the evicted had reached the broker
    and are confirmed later: they are not lost, so the drop count goes back down to 2."""
    spool = filled(tmp_path, 3, max_bytes=950)  # seq 0-2 PUBACKed
    for seq in range(3, 15):  # seq 3-14 never reached the broker
        spool.put("t/det", b"x%089d" % seq, priority=Priority.DETECTIONS, seq=seq)
    assert spool.dropped(Priority.DETECTIONS) == 5
    assert seqs(spool) == list(range(5, 15)), "the oldest go first"
    spool.confirm(Priority.DETECTIONS, SeqAck(first=0, contiguous=2, upto=2))
    assert spool.dropped(Priority.DETECTIONS) == 2, "only seq 3 and 4 are really lost"
    spool.confirm(Priority.DETECTIONS, SeqAck(first=0, contiguous=2, upto=2))  # repeated ack
    assert spool.dropped(Priority.DETECTIONS) == 2
    spool.close()
    assert Spool(tmp_path / "s.db", max_bytes=950).dropped(Priority.DETECTIONS) == 2


def test_a_spool_from_before_acknowledgements_opens(tmp_path: Path) -> None:
    import sqlite3

    db = sqlite3.connect(tmp_path / "old.db")
    db.executescript(
        "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INTEGER NOT NULL,"
        " topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL,"
        " retain INTEGER NOT NULL, size INTEGER NOT NULL, seq INTEGER, created REAL NOT NULL);"
        "INSERT INTO outbox VALUES (1, 0, 't', x'00', 1, 0, 2, 7, 0);"
    )
    db.commit()
    db.close()
    spool = Spool(tmp_path / "old.db", max_bytes=1 << 20)
    assert [m.id for m in spool.pending()] == [1]
    assert spool.max_seq() == 7


def test_resend_rounds_back_off_while_nothing_is_confirmed() -> None:
    clock = ResendClock(timeout_s=10, limit=100, max_interval_s=40)
    assert clock.due(0)
    intervals = []
    now = 0.0
    for _ in range(4):
        clock.ran(now, 5)
        intervals.append(clock.interval_s)
        now += clock.interval_s
        assert not clock.due(now - 0.01)
        assert clock.due(now)
    assert intervals == [20, 40, 40, 40]
    clock.confirmed(now + 1)
    assert clock.due(now + 11), "a confirmation brings a far round back"
    clock.ran(now + 11, 5)
    assert clock.interval_s == 10, "a confirmation means the control plane is back"
    assert clock.resent == 25
    assert clock.rounds == 5
