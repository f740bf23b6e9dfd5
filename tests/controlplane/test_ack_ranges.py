"""What an acknowledgement confirms, built from a device's seq progress (pure)."""

from __future__ import annotations

import pytest

from aios.controlplane.telemetry.acks import seq_ack
from aios.controlplane.telemetry.sequence import SeqProgress
from aios.shared.messages import MAX_ACK_RANGES, SeqAck


def progress(*seqs: int) -> SeqProgress:
    p = SeqProgress.empty()
    for s in seqs:
        p.add(s)
    return p


@pytest.mark.parametrize(
    ("stored", "ack"),
    [
        ((), SeqAck(first=-1, contiguous=-1, upto=-1)),
        ((0, 1, 2), SeqAck(first=0, contiguous=2, upto=2)),
        ((0, 1, 4, 6), SeqAck(first=0, contiguous=1, upto=6, missing=[(2, 3), (5, 5)])),
        ((5, 6), SeqAck(first=5, contiguous=6, upto=6)),  # 0-4 unknown: never confirmed
    ],
)
def test_ack_confirms_exactly_what_is_stored(stored: tuple[int, ...], ack: SeqAck) -> None:
    assert seq_ack(progress(*stored)) == ack
    for seq in range(10):
        assert ack.stored(seq) is (seq in stored)


def test_too_many_gaps_the_ack_speaks_only_below_the_first_range_left_out() -> None:
    stored = list(range(0, 4 * (MAX_ACK_RANGES + 10), 2))  # every other seq: a gap each
    ack = seq_ack(progress(*stored))
    assert len(ack.missing) == MAX_ACK_RANGES
    assert ack.upto == 2 * MAX_ACK_RANGES  # just below the first gap it does not list
    for seq in range(stored[-1] + 1):
        assert ack.stored(seq) is (seq in stored and seq <= ack.upto)
