"""When to send again what the broker took but the control plane has not confirmed.

A numbered message stays in the spool after the broker's PUBACK until the control plane's
:class:`~aios.shared.messages.IngestAck` confirms it is stored (see
:mod:`aios.agent.transport.spool`). One that stays unconfirmed for ``timeout_s`` after its
PUBACK was lost between the broker and the database (a broker restart that dropped a shared
subscription's queue, a broker crash before its autosave...) or is still waiting behind a slow
ingest: it is sent again, at most ``limit`` messages a round. Rounds are ``timeout_s`` apart
while confirmations keep arriving; while none does (the control plane is down), each round
waits twice as long as the previous one, up to ``max_interval_s``, so an outage of the control
plane never turns into a resend storm; the first confirmation brings the pace back. Resending
is harmless: the control plane stores each ``seq`` once.
"""

from __future__ import annotations

from aios.shared.backoff import exponential_delay


class ResendClock:
    def __init__(self, *, timeout_s: float, limit: int, max_interval_s: float = 300.0) -> None:
        self.timeout_s = timeout_s
        self.limit = limit
        self.max_interval_s = max(max_interval_s, timeout_s)
        self.interval_s = timeout_s
        self._quiet_rounds = 0
        """Rounds in a row that resent something with no confirmation since the previous."""
        self._next_round = 0.0
        self._confirmed_since_round = False
        self.rounds = 0
        self.resent = 0

    def due(self, now: float) -> bool:
        """Whether a resend round should run now."""
        return now >= self._next_round

    def confirmed(self, now: float) -> None:
        """A confirmation arrived: the control plane is alive, so resending resumes at the
        base pace (a round backed off far ahead is brought back)."""
        self._confirmed_since_round = True
        self._quiet_rounds = 0
        if self.interval_s > self.timeout_s:
            self.interval_s = self.timeout_s
            self._next_round = min(self._next_round, now + self.timeout_s)

    def ran(self, now: float, count: int) -> None:
        """A round ran at ``now`` and sent ``count`` messages again; schedule the next one."""
        if count:
            self.rounds += 1
            self.resent += count
            self._quiet_rounds = 0 if self._confirmed_since_round else self._quiet_rounds + 1
            self.interval_s = exponential_delay(
                self._quiet_rounds, initial=self.timeout_s, cap=self.max_interval_s
            )
        self._confirmed_since_round = False
        self._next_round = now + (self.interval_s if count else min(self.timeout_s, 5.0))
