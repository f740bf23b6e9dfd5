"""Completeness of a device's detection-batch ``seq`` stream (pure, no I/O).

A device numbers its batches 0, 1, 2... (``DetectionBatch.seq``). The ingest feeds every *newly
stored* seq (duplicates were already filtered by the database) to :meth:`SeqProgress.add`, which
keeps the lowest and highest seq seen, the missing ranges between them (``gaps``, inclusive
``[first, last]`` pairs, ascending) and the highest seq below which nothing is missing
(``contiguous_seq``). At most :data:`MAX_GAPS` ranges are kept (the oldest are forgotten).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_GAPS = 1000


@dataclass(slots=True)
class SeqProgress:
    first_seq: int
    contiguous_seq: int
    max_seq: int
    received: int = 0
    duplicates: int = 0
    gaps: list[list[int]] = field(default_factory=list)

    @classmethod
    def empty(cls) -> SeqProgress:
        return cls(first_seq=-1, contiguous_seq=-1, max_seq=-1)

    @classmethod
    def stored(cls, row: object, prefix: str = "") -> SeqProgress:
        """The progress stored in ``row``'s attributes named as the fields after ``prefix``
        (the ``ingest_state`` columns, the ``event_`` ones of ``ingest_ack_state``)."""
        values = {f: getattr(row, prefix + f) for f in ("first_seq", "contiguous_seq", "max_seq")}
        return cls(
            **values,
            received=getattr(row, prefix + "received"),
            duplicates=getattr(row, prefix + "duplicates"),
            gaps=[list(g) for g in getattr(row, prefix + "gaps")],
        )

    def add(self, seq: int) -> bool:
        """Record a newly stored ``seq``; ``False`` (counted as duplicate) if already known."""
        if self.received == 0:
            self.first_seq = self.contiguous_seq = self.max_seq = seq
            self.received = 1
            return True
        if seq > self.max_seq:
            if seq > self.max_seq + 1:
                self.gaps.append([self.max_seq + 1, seq - 1])
            self.max_seq = seq
        elif seq < self.first_seq:
            if seq < self.first_seq - 1:
                self.gaps.insert(0, [seq + 1, self.first_seq - 1])
            self.first_seq = seq
        elif not self._fill(seq):
            self.duplicates += 1
            return False
        self.received += 1
        del self.gaps[: max(0, len(self.gaps) - MAX_GAPS)]
        self.contiguous_seq = self.gaps[0][0] - 1 if self.gaps else self.max_seq
        return True

    def _fill(self, seq: int) -> bool:
        """Remove ``seq`` from the gap holding it; ``False`` if it is in none."""
        for i, (lo, hi) in enumerate(self.gaps):
            if lo <= seq <= hi:
                parts = [[lo, seq - 1]] if lo < seq else []
                if seq < hi:
                    parts.append([seq + 1, hi])
                self.gaps[i : i + 1] = parts
                return True
            if seq < lo:
                break
        return False

    @property
    def missing(self) -> int:
        """How many seqs are missing between the first and the highest seen."""
        return sum(hi - lo + 1 for lo, hi in self.gaps)
