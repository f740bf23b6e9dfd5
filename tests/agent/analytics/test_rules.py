"""Rules: instant events with cooldowns, and start/update/end lifecycles driven by timestamps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from aios.agent.analytics.rules import Rule, RuleEvent, RuleInput, build_rule
from aios.agent.detections import NO_TRACK, Detections
from aios.agent.errors import ConfigError
from aios.shared.pipeline.nodes import RuleParams


def people(*track_ids: int, class_id: int = 0) -> Detections:
    n = len(track_ids)
    boxes = [[10.0 * i, 0.0, 10.0 * i + 5, 10.0] for i in range(n)]
    return Detections.from_arrays(boxes, [0.9] * n, [class_id] * n, list(track_ids))


def rule(condition: str, **params: Any) -> Rule:
    extra = {k: params.pop(k) for k in ("update_interval_s", "clear_after_s") if k in params}
    class_ids = params.pop("class_ids", None)
    line_id = "l1" if condition == "line_count" else None
    p = RuleParams(event_type="intrusion_detected", condition=condition, **params)  # type: ignore[arg-type]
    return build_rule("r1", p, class_ids, zone_id="z1", line_id=line_id, **extra)


def feed(r: Rule, frames: list[tuple[float, Detections]]) -> list[RuleEvent]:
    events: list[RuleEvent] = []
    for ts, det in frames:
        events += r.evaluate(RuleInput(ts=ts, detections=det))
    return events


def phases(events: list[RuleEvent]) -> list[tuple[str, float]]:
    return [(e.phase, e.ts) for e in events]


@pytest.mark.parametrize(
    ("min_count", "cooldown_s", "counts", "expected_ts"),
    [
        (1, 30.0, [1, 1, 1, 1], [0.0]),  # one per cooldown while it holds
        (1, 1.0, [1, 1, 1, 1], [0.0, 1.0, 2.0, 3.0]),
        (2, 0.0, [1, 2, 3, 1], [1.0, 2.0]),
        (1, 2.0, [0, 1, 0, 1, 1], [1.0, 3.0]),
    ],
)
def test_count_rule_is_instant_with_cooldown(
    min_count: int, cooldown_s: float, counts: list[int], expected_ts: list[float]
) -> None:
    r = rule("count", min_count=min_count, cooldown_s=cooldown_s)
    events = feed(r, [(float(t), people(*range(1, n + 1))) for t, n in enumerate(counts)])
    assert [e.ts for e in events] == expected_ts
    assert all(e.phase == "instant" and e.zone_id == "z1" and e.rule_id == "r1" for e in events)
    assert len({e.event_id for e in events}) == len(events)


def test_count_rule_reports_count_tracks_and_filters_classes() -> None:
    r = rule("count", min_count=2, class_ids=frozenset({0}))
    det = Detections.from_arrays([[0, 0, 1, 1]] * 3, [0.9] * 3, [0, 2, 0], [4, 5, NO_TRACK])
    (event,) = r.evaluate(RuleInput(ts=5.0, detections=det))
    assert event.attributes == {"count": 2}
    assert event.track_ids == (4,)
    assert (event.event_type, event.severity) == ("intrusion_detected", "warning")
    assert (
        r.evaluate(RuleInput(ts=100.0, detections=det.filter(np.array([True, True, False])))) == []
    )


def test_occupancy_has_one_episode_with_updates_and_survives_a_missed_frame() -> None:
    r = rule("occupancy", update_interval_s=10.0, clear_after_s=1.0, cooldown_s=0.0)
    frames = [(t * 0.5, people(7)) for t in range(50)]  # 0 .. 24.5 s present
    frames[20] = (10.0, people())  # the detector misses one frame
    frames += [(25.0 + t * 0.5, people()) for t in range(5)]  # gone from 25 s
    events = feed(r, frames)
    assert phases(events) == [("start", 0.0), ("update", 10.5), ("update", 20.5), ("end", 26.0)]
    assert len({e.event_id for e in events}) == 1
    assert events[-1].attributes == {"max_count": 1, "duration_s": 24.5}
    assert events[-1].track_ids == (7,)


@pytest.mark.parametrize(
    ("cooldown_s", "expected"),
    [
        (0.0, ["start", "end", "start", "end"]),
        (30.0, ["start", "end"]),  # re-entry within the cooldown starts no episode
    ],
)
def test_occupancy_cooldown_spaces_episodes(cooldown_s: float, expected: list[str]) -> None:
    r = rule("occupancy", cooldown_s=cooldown_s, clear_after_s=1.0)
    frames = [
        (0.0, people(1)),
        (1.0, people(1)),
        (5.0, people()),
        (6.0, people(2)),
        (12.0, people()),
    ]
    events = feed(r, frames)
    assert [e.phase for e in events] == expected


def test_dwell_one_loitering_person_is_one_event() -> None:
    r = rule("dwell", dwell_s=10.0, update_interval_s=30.0, clear_after_s=2.0)
    frames = [(t * 1.0, people(1, 2) if t < 6 else people(1)) for t in range(75)]
    frames += [(75.0 + t, people()) for t in range(5)]
    events = feed(r, frames)
    # Track 2 left after 5 s: no event; track 1 loiters from 0 to 74 s.
    assert phases(events) == [("start", 10.0), ("update", 40.0), ("update", 70.0), ("end", 77.0)]
    assert {e.track_ids for e in events} == {(1,)}
    assert len({e.event_id for e in events}) == 1
    assert events[0].attributes == {"dwell_s": 10.0}
    assert events[-1].attributes == {"dwell_s": 74.0}


def test_dwell_is_per_track_and_ignores_untracked() -> None:
    r = rule("dwell", dwell_s=5.0, update_interval_s=None)
    frames = [
        (float(t), people(1, NO_TRACK) if t < 3 else people(1, 3, NO_TRACK)) for t in range(12)
    ]
    events = feed(r, frames)
    assert [(e.phase, e.ts, e.track_ids) for e in events] == [
        ("start", 5.0, (1,)),
        ("start", 8.0, (3,)),
    ]
    ended = r.close(20.0)
    assert [(e.phase, e.track_ids) for e in ended] == [("end", (1,)), ("end", (3,))]
    assert {e.event_id for e in ended} == {e.event_id for e in events}


def test_dwell_timer_restarts_after_the_track_is_gone() -> None:
    r = rule("dwell", dwell_s=5.0, clear_after_s=1.0)
    frames = [(float(t), people(1)) for t in range(4)]  # 3 s
    frames += [(6.0, people())]  # gone for more than clear_after_s
    frames += [(7.0 + t, people(1)) for t in range(5)]  # back at 7 s for 4 s
    assert feed(r, frames) == []


@pytest.mark.parametrize(
    ("direction", "min_count", "expected_counts"),
    [
        ("in", 1, [1, 2, 3]),
        ("out", 1, [1]),
        ("any", 2, [2, 4]),
        ("in", 2, [2]),
    ],
)
def test_line_count_fires_on_each_multiple(
    direction: str, min_count: int, expected_counts: list[int]
) -> None:
    r = rule("line_count", direction=direction, min_count=min_count, cooldown_s=0.0)
    crossings = ["in", "in", "out", "in", None]
    events = []
    for t, c in enumerate(crossings):
        det = people(t + 1)
        frame = RuleInput(
            ts=float(t),
            detections=det,
            crossed_in=np.array([c == "in"]),
            crossed_out=np.array([c == "out"]),
        )
        events += r.evaluate(frame)
    assert [e.attributes["count"] for e in events] == expected_counts
    assert all(e.line_id == "l1" and e.phase == "instant" for e in events)


def test_line_count_cooldown_and_tracks() -> None:
    r = rule("line_count", direction="in", cooldown_s=10.0)
    det = people(3, 4)
    both_in = RuleInput(
        ts=0.0,
        detections=det,
        crossed_in=np.array([True, True]),
        crossed_out=np.array([False, False]),
    )
    (event,) = r.evaluate(both_in)
    assert event.track_ids == (3, 4)
    assert event.attributes["in_count"] == 2
    assert (
        r.evaluate(
            RuleInput(
                ts=5.0,
                detections=det,
                crossed_in=np.array([True, False]),
                crossed_out=np.array([False, False]),
            )
        )
        == []
    )


@pytest.mark.parametrize(
    ("condition", "params", "message"),
    [("dwell", {}, "dwell_s"), ("occupancy", {"update_interval_s": 0.0}, "update_interval_s")],
)
def test_bad_rules_fail_with_the_field(
    condition: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises((ConfigError, ValueError), match=message):
        rule(condition, **params)


def test_line_count_needs_a_line() -> None:
    p = RuleParams(event_type="crossing", condition="line_count")
    with pytest.raises(ConfigError, match="line"):
        build_rule("r9", p, None)
