"""The on-disk spool and the persistent batch sequence, without a broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from aios.agent.errors import TransportError
from aios.agent.transport.sequence import SequenceCounter
from aios.agent.transport.spool import Priority, Spool


def test_messages_survive_reopen_and_leave_only_when_acked(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=1 << 20)
    ids = [spool.put("t/det", b"x" * 10, priority=Priority.DETECTIONS, seq=i) for i in range(3)]
    spool.close()
    spool = Spool(tmp_path / "s.db", max_bytes=1 << 20)
    assert spool.depth == 3
    assert spool.max_seq() == 2
    assert ids[1] is not None
    spool.ack(ids[1])
    spool.ack(ids[1])  # a duplicate PUBACK is harmless
    assert [m.id for m in spool.pending()] == [ids[0], ids[2]]
    assert ids[0] is not None
    assert [m.id for m in spool.pending(after_id=ids[0])] == [ids[2]]
    # a numbered message waits for the control plane (tests/agent/test_spool_ack.py); with
    # none ever seen confirming, it is forgotten after the timeout
    spool.forget_sent(sent_before=float("inf"))
    assert spool.depth == 2


def test_full_spool_drops_oldest_detections_before_any_event(tmp_path: Path) -> None:
    # Budget for ~10 messages of 100 bytes (size counts payload + topic).
    spool = Spool(tmp_path / "s.db", max_bytes=1000)
    events = [spool.put("e", b"E" * 99, priority=Priority.EVENTS) for _ in range(3)]
    dets = [spool.put("d", b"D" * 99, priority=Priority.DETECTIONS) for _ in range(12)]
    kept = {m.id for m in spool.pending(limit=100)}
    assert set(events) <= kept, "no event dropped while detections remain"
    assert dets[-1] in kept
    assert dets[0] not in kept, "oldest detections go first"
    assert spool.bytes <= 1000
    assert spool.dropped(Priority.DETECTIONS) == 5
    assert spool.dropped(Priority.EVENTS) == 0
    # With only events left, the oldest events go.
    for _ in range(20):
        spool.put("e", b"E" * 99, priority=Priority.EVENTS)
    assert spool.dropped(Priority.EVENTS) > 0
    assert all(m.topic == "e" for m in spool.pending(limit=100))


def test_drop_counters_persist(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=300)
    for _ in range(5):
        spool.put("d", b"D" * 99, priority=Priority.DETECTIONS)
    dropped = spool.dropped(Priority.DETECTIONS)
    assert dropped == 2  # 3 messages of 100 bytes fit in 300
    spool.close()
    assert Spool(tmp_path / "s.db", max_bytes=300).dropped(Priority.DETECTIONS) == dropped


def test_a_message_larger_than_the_budget_is_dropped_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_bytes=100)
    assert spool.put("d", b"x" * 500, priority=Priority.DETECTIONS) is None
    assert spool.dropped(Priority.DETECTIONS) == 1
    assert spool.depth == 0


def test_sequence_survives_restart_and_never_goes_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "seq"
    counter = SequenceCounter(path)
    assert [counter.take() for _ in range(3)] == [0, 1, 2]
    assert SequenceCounter(path).take() == 3
    # The spool can hold a higher seq than the file (floor): never reuse one.
    assert SequenceCounter(path, floor=10).take() == 10


def test_corrupt_sequence_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "seq"
    path.write_text("garbage")
    with pytest.raises(TransportError, match="corrupt"):
        SequenceCounter(path)
