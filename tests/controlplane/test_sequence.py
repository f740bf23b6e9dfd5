from __future__ import annotations

import pytest

from aios.controlplane.telemetry.sequence import SeqProgress


@pytest.mark.parametrize(
    ("seqs", "contiguous", "max_seq", "gaps", "duplicates"),
    [
        ([0, 1, 2], 2, 2, [], 0),
        ([0, 1, 3], 1, 3, [[2, 2]], 0),
        ([0, 1, 3, 2], 3, 3, [], 0),
        ([0, 5], 0, 5, [[1, 4]], 0),
        ([0, 5, 3], 0, 5, [[1, 2], [4, 4]], 0),
        ([0, 5, 3, 1, 2, 4], 5, 5, [], 0),
        ([5, 3], 3, 5, [[4, 4]], 0),  # older than the first seen: a gap after it
        ([7, 8, 8], 8, 8, [], 1),
    ],
)
def test_progress(
    seqs: list[int], contiguous: int, max_seq: int, gaps: list[list[int]], duplicates: int
) -> None:
    p = SeqProgress.empty()
    for s in seqs:
        p.add(s)
    assert (p.contiguous_seq, p.max_seq, p.gaps, p.duplicates) == (
        contiguous,
        max_seq,
        gaps,
        duplicates,
    )
    assert p.received == len(seqs) - duplicates
