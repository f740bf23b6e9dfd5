"""The per-device batch ``seq``: monotonically increasing, and surviving restarts.

The next value is kept in a small file in the state directory, replaced atomically (write,
fsync, rename) each time one is taken, so a crash can at worst skip a number (the control
plane sees a gap) and never reuse one.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from aios.agent.errors import TransportError


class SequenceCounter:
    def __init__(self, path: Path, *, floor: int = 0) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._next = max(self._load(), floor)

    def _load(self) -> int:
        try:
            text = self._path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise TransportError(f"cannot read sequence file {self._path}: {exc}") from None
        try:
            return max(0, int(text))
        except ValueError:
            raise TransportError(f"sequence file {self._path} is corrupt: {text[:32]!r}") from None

    @property
    def peek(self) -> int:
        return self._next

    def take(self) -> int:
        """The next ``seq``; persisted before it is returned."""
        with self._lock:
            value = self._next
            self._persist(value + 1)
            self._next = value + 1
            return value

    def _persist(self, value: int) -> None:
        tmp = self._path.with_suffix(".tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(str(value))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path)
        except OSError as exc:
            raise TransportError(f"cannot write sequence file {self._path}: {exc}") from None
