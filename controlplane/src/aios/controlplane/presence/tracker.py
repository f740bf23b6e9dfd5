"""The in-memory presence state machine: O(1) per heartbeat, a timing wheel for deadlines.

Per device the tracker keeps the time of the last sign of life (heartbeat or ``online`` status),
the *observed* state (what the inputs say now) and the *published* state (what was last
announced). A change of the observed state becomes a :class:`PresenceChange` only after it has
held for ``debounce_s`` (flapping is debounced: online -> offline -> online within that time
publishes nothing).

Inputs, each O(1) (a dict lookup and a few attribute writes):

- :meth:`PresenceTracker.heartbeat` and an ``online`` status: the device is alive now;
- an ``offline`` status (the MQTT last will, or a clean shutdown): offline now;
- :meth:`PresenceTracker.seen`: another ingest replica heard the device (read from
  ``devices.last_seen_at`` by the sweep), unless this tracker heard it go offline since;
- time: a device whose last sign of life is older than ``timeout_s`` is offline.

Deadlines live in a timing wheel of one-second slots. Each device has at most one live entry
(the earliest check it needs); a heartbeat never touches the wheel, because the check that
fires at the old deadline sees the newer ``last_seen`` and reschedules itself once. So 10,000
devices heartbeating every 10 s with a 30 s timeout cost about 330 wheel checks a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

ONLINE = "online"
OFFLINE = "offline"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """A debounced change of a device's state, ready to be recorded and published."""

    org_id: str
    device_id: str
    previous: str
    state: str
    at: float
    reason: str


@dataclass(slots=True)
class _Device:
    org_id: str
    last_seen: float
    observed: str
    published: str
    reason: str = ""
    observed_at: float = 0.0
    pending_since: float | None = None
    slot: int | None = None
    verified: bool = True


@dataclass(slots=True)
class TrackerCounters:
    heartbeats: int = 0
    statuses: int = 0
    wrong_tenant: int = 0
    checks: int = 0
    changes: int = 0


@dataclass(slots=True)
class PresenceTracker:
    """Presence of every device seen; see the module docstring."""

    timeout_s: float
    debounce_s: float
    counters: TrackerCounters = field(default_factory=TrackerCounters)
    _devices: dict[str, _Device] = field(default_factory=dict)
    _wheel: dict[int, list[str]] = field(default_factory=dict)

    # --- inputs --------------------------------------------------------------------------------

    def seed(self, org_id: str, device_id: str, published: str, last_seen: float | None) -> None:
        """A device known from the database: its recorded state and last sign of life.

        A device already seen live (the ingest may start first) keeps what it observed and
        only learns its recorded state; one seen under another organization is forgotten."""
        d = self._devices.get(device_id)
        if d is not None:
            if d.org_id != org_id:
                del self._devices[device_id]
                return
            d.verified = True
            d.published = published
            d.pending_since = None if d.observed == published else d.pending_since or d.last_seen
            if d.pending_since is not None:
                self._schedule(device_id, d, d.pending_since + self.debounce_s)
            return
        d = _Device(
            org_id=org_id,
            last_seen=last_seen if last_seen is not None else 0.0,
            observed=published,
            published=published,
        )
        self._devices[device_id] = d
        if published == ONLINE:
            self._schedule(device_id, d, d.last_seen + self.timeout_s)

    def _entry(self, org_id: str, device_id: str, at: float) -> _Device | None:
        """The device's entry (a new one heard at ``at`` if unknown); ``None`` (counted) when the
        device is known under another organization."""
        d = self._devices.get(device_id)
        if d is None:
            return self._new(org_id, device_id, at)
        if d.org_id != org_id:
            self.counters.wrong_tenant += 1
            return None
        return d

    def heartbeat(self, org_id: str, device_id: str, at: float) -> None:
        """A heartbeat received at ``at`` (Unix seconds)."""
        self.counters.heartbeats += 1
        d = self._entry(org_id, device_id, at)
        if d is None:
            return
        if at > d.last_seen:
            d.last_seen = at
        if d.observed != ONLINE:
            self._observe(device_id, d, ONLINE, at, "heartbeat")
            self._schedule(device_id, d, at + self.timeout_s)

    def status(self, org_id: str, device_id: str, state: str, at: float, reason: str) -> None:
        """A status message (``online``, or ``offline``: the last will or a clean shutdown)."""
        self.counters.statuses += 1
        d = self._entry(org_id, device_id, at)
        if d is None:
            return
        if state == ONLINE:
            d.last_seen = max(d.last_seen, at)
            self._observe(device_id, d, ONLINE, at, reason)
            self._schedule(device_id, d, at + self.timeout_s)
        else:
            self._observe(device_id, d, OFFLINE, at, reason)

    def seen(self, org_id: str, device_id: str, at: float) -> None:
        """Another replica heard ``device_id`` (of ``org_id``, as the database says) at ``at``.

        Like a heartbeat, except that it never overrides an ``offline`` this tracker observed
        after ``at`` (a last will heard here after the other replica's heartbeat)."""
        d = self._devices.get(device_id)
        if d is not None and d.org_id != org_id:
            del self._devices[device_id]  # the database knows better than a topic
            d = None
        if d is not None and d.observed == OFFLINE and d.observed_at >= at:
            return
        if d is None:
            d = self._new(org_id, device_id, at)
        d.verified = True
        if at > d.last_seen:
            d.last_seen = at
        if d.observed != ONLINE:
            self._observe(device_id, d, ONLINE, at, "heard_by_another_replica")
            self._schedule(device_id, d, at + self.timeout_s)

    def revive(self, device_id: str, last_seen: float) -> None:
        """Another replica saw the device at ``last_seen``: it was not offline after all."""
        d = self._devices.get(device_id)
        if d is None:
            return
        d.last_seen = max(d.last_seen, last_seen)
        d.observed = d.published = ONLINE
        d.pending_since = None
        self._schedule(device_id, d, d.last_seen + self.timeout_s)

    def unverified(self) -> list[str]:
        """Devices first seen here whose organization the database has not confirmed yet."""
        return [k for k, d in self._devices.items() if not d.verified]

    def verify(self, owners: dict[str, str], checked: Iterable[str]) -> None:
        """Keep the ``checked`` devices whose owner matches; forget the others (unknown or
        wrong-tenant devices never get a presence)."""
        for device_id in checked:
            d = self._devices.get(device_id)
            if d is None or d.verified:
                continue
            if owners.get(device_id) == d.org_id:
                d.verified = True
            else:
                del self._devices[device_id]
                self.counters.wrong_tenant += 1

    # --- queries -------------------------------------------------------------------------------

    def state_of(self, device_id: str) -> str:
        """The published state of ``device_id`` (``unknown`` if never seen)."""
        d = self._devices.get(device_id)
        return d.published if d is not None else UNKNOWN

    def last_seen(self, device_id: str) -> float | None:
        d = self._devices.get(device_id)
        return d.last_seen if d is not None else None

    def __len__(self) -> int:
        return len(self._devices)

    # --- time ----------------------------------------------------------------------------------

    def sweep(self, now: float) -> list[PresenceChange]:
        """Run every check due by ``now``; the changes that are due for publication."""
        changes: list[PresenceChange] = []
        end = math.floor(now)
        while True:
            due = sorted(slot for slot in self._wheel if slot <= end)  # ~timeout+debounce keys
            if not due:
                break
            for slot in due:
                for device_id in self._wheel.pop(slot):
                    d = self._devices.get(device_id)
                    if d is None or d.slot != slot:
                        continue  # stale entry: forgotten, or an earlier check superseded it
                    d.slot = None
                    self.counters.checks += 1
                    change = self._check(device_id, d, now)
                    if change is not None:
                        changes.append(change)
        self.counters.changes += len(changes)
        return changes

    # --- internals -----------------------------------------------------------------------------

    def _new(self, org_id: str, device_id: str, at: float) -> _Device:
        d = _Device(org_id=org_id, last_seen=at, observed=UNKNOWN, published=UNKNOWN)
        d.verified = False
        self._devices[device_id] = d
        return d

    def _observe(self, device_id: str, d: _Device, state: str, at: float, reason: str) -> None:
        if d.observed == state:
            return
        d.observed = state
        d.observed_at = at
        d.reason = reason
        if state == d.published:
            d.pending_since = None
        else:
            d.pending_since = at
            self._schedule(device_id, d, at + self.debounce_s)

    def _check(self, device_id: str, d: _Device, now: float) -> PresenceChange | None:
        if d.observed == ONLINE and now >= d.last_seen + self.timeout_s:
            self._observe(device_id, d, OFFLINE, d.last_seen + self.timeout_s, "heartbeat_timeout")
        change = None
        if d.pending_since is not None and now >= d.pending_since + self.debounce_s:
            if not d.verified:
                self._schedule(device_id, d, now + 1.0)
                return None
            change = PresenceChange(
                org_id=d.org_id,
                device_id=device_id,
                previous=d.published,
                state=d.observed,
                at=d.pending_since,
                reason=d.reason,
            )
            d.published = d.observed
            d.pending_since = None
        deadline = math.inf
        if d.observed == ONLINE:
            deadline = d.last_seen + self.timeout_s
        if d.pending_since is not None:
            deadline = min(deadline, d.pending_since + self.debounce_s)
        if deadline < math.inf:
            self._schedule(device_id, d, deadline)
        return change

    def _schedule(self, device_id: str, d: _Device, at: float) -> None:
        slot = math.ceil(at)
        if d.slot is not None and d.slot <= slot:
            return
        d.slot = slot
        bucket = self._wheel.get(slot)
        if bucket is None:
            self._wheel[slot] = [device_id]
        else:
            bucket.append(device_id)
