"""Rules: turning zone, line and detection state into events, driven by frame timestamps.

The runtime calls :meth:`Rule.evaluate` once per frame with the detections in the rule's
scope (already filtered by its zone, if it hangs off one) and, for line rules, the crossing
masks of :meth:`~aios.agent.analytics.lines.LineZone.trigger`. Rules read only the timestamps
they are given, never the clock, so they are deterministic and testable.

Conditions (``RuleParams.condition``), all restricted to the rule's classes:

- ``count``: at least ``min_count`` objects present -> an ``instant`` event, at most one per
  ``cooldown_s`` while it holds;
- ``line_count``: the rule's crossing count in ``direction`` (``any``: both) reaches a new
  multiple of ``min_count`` -> an ``instant`` event, at most one per ``cooldown_s``;
- ``occupancy``: at least ``min_count`` objects present -> ``start`` when it begins, an
  ``update`` every ``update_interval_s`` while it holds, ``end`` once it has not held for
  ``clear_after_s`` (so that a detector missing one frame does not split the episode);
- ``dwell``: per tracked object (untracked detections are ignored), ``start`` once it has been
  in scope for ``dwell_s``, ``update`` every ``update_interval_s``, ``end`` once it has been
  gone for ``clear_after_s`` (left the zone or its track was lost). One loitering person is one
  event id from start to end.

For lifecycle rules, ``cooldown_s`` spaces the *starts* of episodes of the same subject (the
rule for ``occupancy``, the track for ``dwell``); an episode that would start within the
cooldown waits until the cooldown has passed, if the condition still holds then.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from aios.agent.analytics.classes import class_mask
from aios.agent.detections import NO_TRACK, Detections
from aios.agent.errors import ConfigError
from aios.shared.fields import EventPhase, Severity
from aios.shared.messages import MAX_TRACK_IDS, AttributeValue
from aios.shared.pipeline.nodes import RuleParams


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class RuleEvent:
    """One event decided by a rule; the runtime turns it into :class:`aios.shared.messages.Event`.

    ``start``, ``update`` and ``end`` of one episode share ``event_id``.
    """

    event_id: str
    event_type: str
    severity: Severity
    phase: EventPhase
    ts: float
    rule_id: str
    track_ids: tuple[int, ...] = ()
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    zone_id: str | None = None
    line_id: str | None = None


@dataclass(frozen=True, slots=True)
class RuleInput:
    """What a rule sees of one frame: its timestamp (seconds), the detections in scope, and for
    line rules the per-detection crossing masks of the line."""

    ts: float
    detections: Detections
    crossed_in: npt.NDArray[np.bool_] | None = None
    crossed_out: npt.NDArray[np.bool_] | None = None


class Rule(Protocol):
    rule_id: str

    def evaluate(self, frame: RuleInput) -> list[RuleEvent]:
        """The events this frame causes, in order."""
        ...

    def close(self, ts: float) -> list[RuleEvent]:
        """End every open episode (pipeline stopping or replaced)."""
        ...


def build_rule(
    rule_id: str,
    params: RuleParams,
    class_ids: frozenset[int] | None,
    *,
    zone_id: str | None = None,
    line_id: str | None = None,
    update_interval_s: float | None = 30.0,
    clear_after_s: float = 1.0,
) -> Rule:
    """The rule for ``params.condition``; ``class_ids`` resolved from ``params.classes``."""
    base = _RuleBase(rule_id, params, class_ids, zone_id, line_id)
    if params.condition == "count":
        return CountRule(base)
    if params.condition == "line_count":
        if line_id is None:
            raise ConfigError(f"rule {rule_id!r}: condition 'line_count' needs a line input")
        return LineCountRule(base)
    if update_interval_s is not None and update_interval_s <= 0:
        raise ValueError(f"update_interval_s must be positive or None, got {update_interval_s}")
    if params.condition == "occupancy":
        return OccupancyRule(base, update_interval_s, clear_after_s)
    if params.dwell_s is None:
        raise ConfigError(f"rule {rule_id!r}: params.dwell_s is required for condition 'dwell'")
    return DwellRule(base, params.dwell_s, update_interval_s, clear_after_s)


@dataclass(frozen=True)
class _RuleBase:
    rule_id: str
    params: RuleParams
    class_ids: frozenset[int] | None
    zone_id: str | None
    line_id: str | None

    def event(
        self,
        phase: EventPhase,
        ts: float,
        track_ids: tuple[int, ...],
        attributes: dict[str, AttributeValue],
        event_id: str | None = None,
    ) -> RuleEvent:
        return RuleEvent(
            event_id=event_id or new_event_id(),
            event_type=self.params.event_type,
            severity=self.params.severity,
            phase=phase,
            ts=ts,
            rule_id=self.rule_id,
            track_ids=track_ids,
            attributes=attributes,
            zone_id=self.zone_id,
            line_id=self.line_id,
        )

    def in_scope(self, detections: Detections) -> Detections:
        return detections.filter(class_mask(detections.class_id, self.class_ids))


def _track_ids(detections: Detections) -> tuple[int, ...]:
    """The tracked ids among ``detections``, as many as an event carries."""
    ids = detections.tracker_id[detections.tracker_id != NO_TRACK]
    return tuple(sorted(int(i) for i in ids))[:MAX_TRACK_IDS]


def _remember(known: set[int], ids: tuple[int, ...]) -> None:
    """Add ``ids`` to the track ids of an episode, up to what an event carries: the first
    ones seen are kept (an episode of a busy place lasting hours sees thousands)."""
    for track_id in ids:
        if len(known) >= MAX_TRACK_IDS:
            return
        known.add(track_id)


def _cooled(last: float | None, ts: float, cooldown_s: float) -> bool:
    return last is None or ts - last >= cooldown_s


class CountRule:
    def __init__(self, base: _RuleBase) -> None:
        self.rule_id = base.rule_id
        self._base = base
        self._last_emit: float | None = None

    def evaluate(self, frame: RuleInput) -> list[RuleEvent]:
        present = self._base.in_scope(frame.detections)
        count = len(present)
        p = self._base.params
        if count < p.min_count or not _cooled(self._last_emit, frame.ts, p.cooldown_s):
            return []
        self._last_emit = frame.ts
        return [self._base.event("instant", frame.ts, _track_ids(present), {"count": count})]

    def close(self, ts: float) -> list[RuleEvent]:
        return []


class LineCountRule:
    def __init__(self, base: _RuleBase) -> None:
        self.rule_id = base.rule_id
        self._base = base
        self._last_emit: float | None = None
        self.in_count = 0
        self.out_count = 0
        self._reported_multiple = 0

    def evaluate(self, frame: RuleInput) -> list[RuleEvent]:
        if frame.crossed_in is None or frame.crossed_out is None:
            raise ValueError(f"rule {self.rule_id!r}: line_count needs the line's crossing masks")
        det = frame.detections
        mask = class_mask(det.class_id, self._base.class_ids)
        crossed_in, crossed_out = frame.crossed_in & mask, frame.crossed_out & mask
        self.in_count += int(np.count_nonzero(crossed_in))
        self.out_count += int(np.count_nonzero(crossed_out))
        p = self._base.params
        if p.direction == "in":
            total, crossed = self.in_count, crossed_in
        elif p.direction == "out":
            total, crossed = self.out_count, crossed_out
        else:
            total, crossed = self.in_count + self.out_count, crossed_in | crossed_out
        multiple = total // p.min_count
        if multiple <= self._reported_multiple or not _cooled(
            self._last_emit, frame.ts, p.cooldown_s
        ):
            return []
        self._reported_multiple = multiple
        self._last_emit = frame.ts
        attributes: dict[str, AttributeValue] = {
            "count": total,
            "in_count": self.in_count,
            "out_count": self.out_count,
            "direction": p.direction,
        }
        return [self._base.event("instant", frame.ts, _track_ids(det.filter(crossed)), attributes)]

    def close(self, ts: float) -> list[RuleEvent]:
        return []


@dataclass
class _Episode:
    event_id: str
    started: float
    last_true: float
    last_emit: float
    peak: int = 0
    track_ids: set[int] = field(default_factory=set)


class OccupancyRule:
    def __init__(
        self, base: _RuleBase, update_interval_s: float | None, clear_after_s: float
    ) -> None:
        self.rule_id = base.rule_id
        self._base = base
        self._update_interval_s = update_interval_s
        self._clear_after_s = clear_after_s
        self._episode: _Episode | None = None
        self._last_start: float | None = None

    def evaluate(self, frame: RuleInput) -> list[RuleEvent]:
        present = self._base.in_scope(frame.detections)
        count = len(present)
        p = self._base.params
        ts = frame.ts
        holds = count >= p.min_count
        episode = self._episode
        if episode is None:
            if not holds or not _cooled(self._last_start, ts, p.cooldown_s):
                return []
            ids = _track_ids(present)
            episode = _Episode(new_event_id(), ts, ts, ts, count, set(ids))
            self._episode, self._last_start = episode, ts
            return [self._base.event("start", ts, ids, {"count": count}, episode.event_id)]
        if holds:
            episode.last_true = ts
            episode.peak = max(episode.peak, count)
            _remember(episode.track_ids, _track_ids(present))
            interval = self._update_interval_s
            if interval is not None and ts - episode.last_emit >= interval:
                episode.last_emit = ts
                attributes: dict[str, AttributeValue] = {
                    "count": count,
                    "max_count": episode.peak,
                    "duration_s": ts - episode.started,
                }
                return [
                    self._base.event(
                        "update", ts, tuple(sorted(episode.track_ids)), attributes, episode.event_id
                    )
                ]
            return []
        if ts - episode.last_true > self._clear_after_s:
            return self.close(ts)
        return []

    def close(self, ts: float) -> list[RuleEvent]:
        episode, self._episode = self._episode, None
        if episode is None:
            return []
        attributes: dict[str, AttributeValue] = {
            "max_count": episode.peak,
            "duration_s": episode.last_true - episode.started,
        }
        ids = tuple(sorted(episode.track_ids))
        return [self._base.event("end", ts, ids, attributes, episode.event_id)]


@dataclass
class _Visit:
    first_seen: float
    last_seen: float
    episode_id: str | None = None
    last_emit: float = 0.0


class DwellRule:
    def __init__(
        self,
        base: _RuleBase,
        dwell_s: float,
        update_interval_s: float | None,
        clear_after_s: float,
    ) -> None:
        self.rule_id = base.rule_id
        self._base = base
        self._dwell_s = dwell_s
        self._update_interval_s = update_interval_s
        self._clear_after_s = clear_after_s
        self._visits: dict[int, _Visit] = {}
        self._last_start: dict[int, float] = {}

    @property
    def open_track_ids(self) -> list[int]:
        """Tracks with an episode started and not yet ended."""
        return sorted(k for k, v in self._visits.items() if v.episode_id is not None)

    def evaluate(self, frame: RuleInput) -> list[RuleEvent]:
        ts = frame.ts
        present = self._base.in_scope(frame.detections)
        events: list[RuleEvent] = []
        for track_id in sorted({int(t) for t in present.tracker_id if t != NO_TRACK}):
            visit = self._visits.setdefault(track_id, _Visit(ts, ts))
            visit.last_seen = ts
            dwell = ts - visit.first_seen
            if visit.episode_id is None:
                if dwell >= self._dwell_s and _cooled(
                    self._last_start.get(track_id), ts, self._base.params.cooldown_s
                ):
                    visit.episode_id, visit.last_emit = new_event_id(), ts
                    self._last_start[track_id] = ts
                    events.append(self._emit("start", ts, track_id, visit))
            elif self._update_interval_s is not None and (
                ts - visit.last_emit >= self._update_interval_s
            ):
                visit.last_emit = ts
                events.append(self._emit("update", ts, track_id, visit))
        gone = [k for k, v in self._visits.items() if ts - v.last_seen > self._clear_after_s]
        for track_id in sorted(gone):
            visit = self._visits.pop(track_id)
            if visit.episode_id is not None:
                events.append(self._emit("end", ts, track_id, visit))
        cooldown = self._base.params.cooldown_s
        for track_id in [k for k, v in self._last_start.items() if ts - v >= cooldown]:
            del self._last_start[track_id]
        return events

    def close(self, ts: float) -> list[RuleEvent]:
        events = [
            self._emit("end", ts, track_id, visit)
            for track_id, visit in sorted(self._visits.items())
            if visit.episode_id is not None
        ]
        self._visits.clear()
        return events

    def _emit(self, phase: EventPhase, ts: float, track_id: int, visit: _Visit) -> RuleEvent:
        end = visit.last_seen if phase == "end" else ts
        attributes: dict[str, AttributeValue] = {"dwell_s": round(end - visit.first_seen, 3)}
        return self._base.event(phase, ts, (track_id,), attributes, visit.episode_id)
