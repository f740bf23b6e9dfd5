"""Directed line crossings: in is left-to-right of start->end on screen (y down)."""

from __future__ import annotations

import pytest

from aios.agent.analytics.lines import LineZone
from aios.agent.detections import NO_TRACK, Detections
from aios.shared.pipeline.nodes import LineParams

WH = (1000, 1000)
HORIZONTAL = ((0.2, 0.5), (0.8, 0.5))  # drawn left to right: "in" is moving down
VERTICAL = ((0.5, 0.2), (0.5, 0.8))  # drawn top to bottom: "in" is moving right to left


def at(x: float, y: float, track_id: int = 1, class_id: int = 0) -> Detections:
    """One detection standing (bottom-center) at the normalized point."""
    px, py = x * WH[0], y * WH[1]
    return Detections.from_arrays([[px - 10, py - 50, px + 10, py]], [0.9], [class_id], [track_id])


def walk(line: LineZone, path: list[tuple[float, float]], **kw: int) -> list[tuple[bool, bool]]:
    out = []
    for x, y in path:
        crossed_in, crossed_out = line.trigger(at(x, y, **kw), WH)
        out.append((bool(crossed_in[0]), bool(crossed_out[0])))
    return out


@pytest.mark.parametrize(
    ("segment", "path", "in_count", "out_count"),
    [
        (HORIZONTAL, [(0.5, 0.3), (0.5, 0.45), (0.5, 0.55), (0.5, 0.7)], 1, 0),
        (HORIZONTAL, [(0.5, 0.7), (0.5, 0.55), (0.5, 0.45)], 0, 1),
        (HORIZONTAL, [(0.5, 0.3), (0.5, 0.7), (0.5, 0.3), (0.5, 0.7)], 2, 1),
        # Beside the segment (x 0.9 > 0.8): crossing the line's extension does not count.
        (HORIZONTAL, [(0.9, 0.3), (0.9, 0.7)], 0, 0),
        # A diagonal move that cuts the segment counts, one that passes its end does not.
        (HORIZONTAL, [(0.1, 0.4), (0.3, 0.6)], 1, 0),
        (HORIZONTAL, [(0.1, 0.45), (0.19, 0.55)], 0, 0),
        # Stopping exactly on the line and going back is no crossing; going on is one.
        (HORIZONTAL, [(0.5, 0.4), (0.5, 0.5), (0.5, 0.4)], 0, 0),
        (HORIZONTAL, [(0.5, 0.4), (0.5, 0.5), (0.5, 0.5), (0.5, 0.6)], 1, 0),
        (VERTICAL, [(0.6, 0.5), (0.4, 0.5)], 1, 0),
        (VERTICAL, [(0.4, 0.5), (0.6, 0.5)], 0, 1),
        # Reversing the segment's direction swaps in and out.
        (((0.8, 0.5), (0.2, 0.5)), [(0.5, 0.3), (0.5, 0.7)], 0, 1),
    ],
)
def test_line_counts_crossings_by_direction(
    segment: tuple[tuple[float, float], tuple[float, float]],
    path: list[tuple[float, float]],
    in_count: int,
    out_count: int,
) -> None:
    line = LineZone(*segment)
    events = walk(line, path)
    assert (line.in_count, line.out_count) == (in_count, out_count)
    assert sum(e[0] for e in events) == in_count
    assert sum(e[1] for e in events) == out_count


def test_untracked_and_other_classes_do_not_count() -> None:
    line = LineZone(*HORIZONTAL, class_ids=frozenset({0}))
    walk(line, [(0.5, 0.3), (0.5, 0.7)], track_id=NO_TRACK)
    walk(line, [(0.5, 0.3), (0.5, 0.7)], track_id=2, class_id=1)
    assert (line.in_count, line.out_count) == (0, 0)
    walk(line, [(0.5, 0.3), (0.5, 0.7)], track_id=3, class_id=0)
    assert (line.in_count, line.out_count) == (1, 0)


def test_tracks_are_followed_separately_and_flags_are_per_detection() -> None:
    line = LineZone(*HORIZONTAL)
    first = Detections.from_arrays(
        [[290, 250, 310, 300], [690, 650, 710, 700]], [0.9, 0.9], [0, 0], [1, 2]
    )
    second = Detections.from_arrays(
        [[690, 250, 710, 300], [290, 650, 310, 700]], [0.9, 0.9], [0, 0], [2, 1]
    )
    line.trigger(first, WH)
    crossed_in, crossed_out = line.trigger(second, WH)
    assert crossed_in.tolist() == [False, True]  # track 1 went down
    assert crossed_out.tolist() == [True, False]  # track 2 went up
    assert (line.in_count, line.out_count) == (1, 1)


def test_a_track_occluded_while_crossing_is_counted_when_seen_again() -> None:
    line = LineZone(*HORIZONTAL)
    line.trigger(at(0.5, 0.3), WH)
    for _ in range(10):
        line.trigger(Detections.empty(), WH)
    assert line.trigger(at(0.5, 0.7), WH)[0].tolist() == [True]


def test_a_forgotten_track_does_not_count() -> None:
    line = LineZone(*HORIZONTAL, forget_after=5)
    line.trigger(at(0.5, 0.3), WH)
    for _ in range(6):
        line.trigger(Detections.empty(), WH)
    line.trigger(at(0.5, 0.7), WH)
    assert line.in_count == 0


def test_from_params_reset_and_validation() -> None:
    line = LineZone.from_params(LineParams(start=(0.2, 0.5), end=(0.8, 0.5)), None)
    walk(line, [(0.5, 0.3), (0.5, 0.7)])
    assert line.in_count == 1
    line.reset()
    assert (line.in_count, line.out_count) == (0, 0)
    with pytest.raises(ValueError, match="differ"):
        LineZone((0.5, 0.5), (0.5, 0.5))
