"""ByteTracker on synthetic trajectories: ids stay put through crossings, occlusions and noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from aios.agent.analytics.tracker import ByteTracker
from aios.agent.detections import Detections
from aios.shared.pipeline.nodes import TrackParams

W, H = 40.0, 80.0  # object box size in pixels


@dataclass
class Obj:
    """A synthetic object: box center moving at constant velocity, with visibility."""

    key: int
    start: tuple[float, float]
    velocity: tuple[float, float]
    first: int = 0
    last: int = 10**9
    hidden: tuple[int, ...] = ()  # frames where the detector misses it
    score: float = 0.9
    low_score_frames: tuple[int, ...] = ()
    class_id: int = 0

    def box(self, frame: int) -> list[float]:
        cx = self.start[0] + self.velocity[0] * frame
        cy = self.start[1] + self.velocity[1] * frame
        return [cx - W / 2, cy - H / 2, cx + W / 2, cy + H / 2]

    def visible(self, frame: int) -> bool:
        return self.first <= frame <= self.last and frame not in self.hidden


def frame_detections(objs: list[Obj], frame: int) -> tuple[Detections, list[int]]:
    """The detections of one frame and the object key of each row."""
    rows = [o for o in objs if o.visible(frame)]
    if not rows:
        return Detections.empty(), []
    scores = [0.3 if frame in o.low_score_frames else o.score for o in rows]
    det = Detections.from_arrays([o.box(frame) for o in rows], scores, [o.class_id for o in rows])
    return det, [o.key for o in rows]


def run(tracker: ByteTracker, objs: list[Obj], frames: int) -> list[dict[int, int]]:
    """Per frame: object key -> tracker id, for the objects the tracker returned."""
    history: list[dict[int, int]] = []
    for f in range(frames):
        det, keys = frame_detections(objs, f)
        history.append(assign_keys(tracker.update(det), det, keys))
    return history


def assign_keys(out: Detections, det: Detections, keys: list[int]) -> dict[int, int]:
    """Map returned rows back to input rows by their (unchanged) boxes; the tracker keeps
    the input order, so identical boxes are told apart by position."""
    result: dict[int, int] = {}
    row = 0
    for box, track_id in zip(out.xyxy, out.tracker_id, strict=True):
        while not np.array_equal(det.xyxy[row], box):
            row += 1
        result[keys[row]] = int(track_id)
        row += 1
    return result


def ids_of(history: list[dict[int, int]], key: int) -> list[int]:
    return [h[key] for h in history if key in h]


def id_switches(history: list[dict[int, int]]) -> int:
    """MOT-style: times an object's tracker id differs from the id it last had."""
    last: dict[int, int] = {}
    switches = 0
    for frame in history:
        for key, track_id in frame.items():
            if key in last and last[key] != track_id:
                switches += 1
            last[key] = track_id
    return switches


def test_parallel_straight_lines_keep_one_id_each() -> None:
    objs = [Obj(k, (50.0, 100.0 + 120 * k), (4.0, 0.5)) for k in range(3)]
    history = run(ByteTracker(TrackParams()), objs, 60)
    assert all(len(h) == 3 for h in history)
    assert {k: set(ids_of(history, k)) for k in range(3)} == {0: {1}, 1: {2}, 2: {3}}


@pytest.mark.parametrize(
    ("dy", "speed"),
    [(0.0, 6.0), (20.0, 6.0), (40.0, 3.0), (10.0, 10.0)],
)
def test_objects_crossing_paths_keep_their_ids(dy: float, speed: float) -> None:
    """Two objects walk towards each other and overlap fully (dy=0) or in part, then part."""
    objs = [Obj(0, (100.0, 300.0), (speed, 0.0)), Obj(1, (700.0, 300.0 + dy), (-speed, 0.0))]
    frames = int(600 / speed) + 30
    history = run(ByteTracker(TrackParams()), objs, frames)
    assert set(ids_of(history, 0)) == {1}
    assert set(ids_of(history, 1)) == {2}


@pytest.mark.parametrize("gap", [1, 5, 15, 29])
def test_occluded_object_keeps_its_id_within_the_buffer(gap: int) -> None:
    objs = [Obj(0, (100.0, 200.0), (5.0, 1.0), hidden=tuple(range(20, 20 + gap)))]
    history = run(ByteTracker(TrackParams(lost_buffer_frames=30)), objs, 20 + gap + 20)
    assert all(0 not in h for h in history[20 : 20 + gap])
    assert history[20 + gap] == {0: 1}, "the object is found again as soon as it reappears"
    assert set(ids_of(history, 0)) == {1}


@pytest.mark.parametrize(("gap", "frame_rate"), [(40, 30.0), (20, 15.0)])
def test_object_away_longer_than_the_buffer_gets_a_new_id(gap: int, frame_rate: float) -> None:
    objs = [Obj(0, (100.0, 200.0), (5.0, 1.0), hidden=tuple(range(20, 20 + gap)))]
    tracker = ByteTracker(TrackParams(lost_buffer_frames=30), frame_rate=frame_rate)
    history = run(tracker, objs, 20 + gap + 20)
    assert ids_of(history, 0)[:20] == [1] * 20
    assert set(ids_of(history, 0)[20:]) == {2}


def test_new_object_gets_a_new_id_from_its_second_frame() -> None:
    objs = [Obj(0, (100.0, 200.0), (3.0, 0.0)), Obj(1, (500.0, 400.0), (-3.0, 0.0), first=10)]
    history = run(ByteTracker(TrackParams()), objs, 30)
    assert 1 not in history[10], "a new object is tentative on its first frame"
    assert history[11] == {0: 1, 1: 2}
    assert set(ids_of(history, 1)) == {2}


def test_single_frame_false_positive_burns_no_id() -> None:
    objs = [
        Obj(0, (100.0, 200.0), (3.0, 0.0)),
        Obj(1, (600.0, 400.0), (0.0, 0.0), first=5, last=5),
        Obj(2, (300.0, 500.0), (0.0, 0.0), first=10),
    ]
    history = run(ByteTracker(TrackParams()), objs, 20)
    assert set(ids_of(history, 1)) == set()
    assert set(ids_of(history, 2)) == {2}


@pytest.mark.parametrize(
    ("low_thresh", "tracked_while_low"),
    [(0.1, True), (0.4, False)],
)
def test_low_score_detections_keep_a_track_alive(
    low_thresh: float, tracked_while_low: bool
) -> None:
    """A partly occluded object scores 0.3: ByteTrack's second association keeps it tracked;
    with the low threshold above 0.3 those detections are dropped and the track is lost."""
    low = tuple(range(20, 40))
    objs = [Obj(0, (100.0, 200.0), (4.0, 0.0), low_score_frames=low)]
    params = TrackParams(high_thresh=0.5, low_thresh=low_thresh)
    history = run(ByteTracker(params), objs, 60)
    assert all((0 in h) == tracked_while_low for h in history[20:40])
    assert set(ids_of(history, 0)) == {1}


def test_low_score_detections_start_no_track() -> None:
    objs = [Obj(0, (100.0, 200.0), (4.0, 0.0), score=0.3)]
    history = run(ByteTracker(TrackParams()), objs, 20)
    assert all(h == {} for h in history)


@pytest.mark.parametrize(
    ("class_groups", "returned_on_flicker"),
    [([{0, 1}], [1]), ([], [])],
)
def test_class_flicker_keeps_the_track_and_its_class(
    class_groups: list[set[int]], returned_on_flicker: list[int]
) -> None:
    """The detector calls the object class 1 every fifth frame. With 0 and 1 in one group the
    track takes those detections and keeps class 0; without, they are another class's and the
    track, lost for that frame, is found again with its id on the next."""
    tracker = ByteTracker(TrackParams(), class_groups=class_groups)
    obj = Obj(0, (100.0, 200.0), (4.0, 0.0))
    classes: list[int] = []
    for f in range(40):
        flicker = f % 5 == 4
        det = Detections.from_arrays([obj.box(f)], [0.9], [1 if flicker else 0])
        out = tracker.update(det)
        assert out.tracker_id.tolist() == (returned_on_flicker if flicker else [1])
        classes.extend(int(c) for c in out.class_id)
    assert set(classes) == {0}


def test_a_class_in_two_groups_is_refused() -> None:
    with pytest.raises(ValueError, match="class 2"):
        ByteTracker(TrackParams(), class_groups=[{2, 5}, {2, 7}])


def test_reset_forgets_tracks_and_restarts_ids() -> None:
    tracker = ByteTracker(TrackParams())
    objs = [Obj(k, (50.0, 100.0 + 120 * k), (4.0, 0.0)) for k in range(2)]
    run(tracker, objs, 10)
    tracker.reset()
    history = run(tracker, [Obj(5, (400.0, 400.0), (0.0, 0.0))], 3)
    assert history[0] == {5: 1}


def test_empty_frames_are_fine() -> None:
    tracker = ByteTracker(TrackParams())
    assert len(tracker.update(Detections.empty())) == 0
    assert tracker.update(Detections.empty()).tracker_id.dtype == np.int64


def random_scene(seed: int, n_objects: int, frames: int) -> list[Obj]:
    """Objects entering over time, moving in random directions across a 1280x720 frame,
    missed by the detector 5% of the time and in bursts of up to 10 frames."""
    rng = np.random.default_rng(seed)
    objs = []
    for k in range(n_objects):
        first = int(rng.integers(0, frames // 2))
        last = int(rng.integers(first + 30, frames + 30))
        hidden = {int(f) for f in np.nonzero(rng.random(frames) < 0.05)[0]}
        burst = int(rng.integers(first, first + 60))
        hidden |= set(range(burst, burst + int(rng.integers(3, 11))))
        speed = rng.uniform(1.0, 6.0)
        angle = rng.uniform(0, 2 * np.pi)
        objs.append(
            Obj(
                k,
                (float(rng.uniform(100, 1180)), float(rng.uniform(100, 620))),
                (float(speed * np.cos(angle)), float(speed * np.sin(angle))),
                first=first,
                last=last,
                hidden=tuple(sorted(hidden)),
                score=float(rng.uniform(0.65, 0.95)),
            )
        )
    return objs


def noisy_run(
    tracker: ByteTracker, objs: list[Obj], frames: int, seed: int
) -> tuple[list[dict[int, int]], int]:
    """Like :func:`run` with 2 px box jitter, score noise and a random false positive per
    frame; returns the history and the number of ground-truth detections."""
    rng = np.random.default_rng(seed)
    history: list[dict[int, int]] = []
    visible = 0
    for f in range(frames):
        det, keys = frame_detections(objs, f)
        visible += len(keys)
        boxes: npt.NDArray[np.float32] = det.xyxy + rng.normal(0, 2.0, det.xyxy.shape).astype(
            np.float32
        )
        scores = np.clip(det.confidence + rng.normal(0, 0.05, len(det)), 0, 1)
        fp_box = [[*(xy := rng.uniform(0, 1200, 2)), *(xy + 30)]]
        noisy = Detections.from_arrays(
            np.concatenate([boxes, np.asarray(fp_box, np.float32)]),
            np.concatenate([scores, [rng.uniform(0.1, 0.7)]]),
            np.concatenate([det.class_id, [0]]),
        )
        history.append(assign_keys(tracker.update(noisy), noisy, [*keys, -1]))
    return history, visible


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_id_switches_in_a_noisy_crowd_are_rare(seed: int) -> None:
    """20 objects over 300 frames with jitter, misses, occlusion bursts and false positives.
    Measured: 0 switches for these seeds (bound: 2% of frames)."""
    frames = 300
    objs = random_scene(seed, n_objects=20, frames=frames)
    history, visible = noisy_run(ByteTracker(TrackParams()), objs, frames, seed)
    real = [{k: v for k, v in h.items() if k >= 0} for h in history]
    tracked = sum(len(h) for h in real)
    assert tracked >= 0.95 * visible
    assert id_switches(real) <= 0.02 * frames


def test_id_switch_count_sees_switches_without_a_lost_buffer() -> None:
    """Control for the test above: with a one-frame buffer every occlusion burst costs an id,
    so the measure does count switches."""
    frames = 300
    objs = random_scene(0, n_objects=20, frames=frames)
    tracker = ByteTracker(TrackParams(lost_buffer_frames=1))
    history, _ = noisy_run(tracker, objs, frames, 0)
    assert id_switches([{k: v for k, v in h.items() if k >= 0} for h in history]) > 0.02 * frames


@pytest.mark.parametrize("speed", [3.0, 6.0])
def test_object_hidden_behind_another_while_crossing_keeps_its_id(speed: float) -> None:
    """The detector sees only the front object while the two overlap; the one behind is
    found again from its predicted motion when they part."""
    front = Obj(0, (100.0, 300.0), (speed, 0.0))
    behind = Obj(1, (700.0, 310.0), (-speed, 0.0))
    frames = int(600 / speed) + 30
    behind.hidden = tuple(
        f
        for f in range(frames)
        if abs(front.box(f)[0] - behind.box(f)[0]) < W  # boxes overlap horizontally
    )
    history = run(ByteTracker(TrackParams()), [front, behind], frames)
    assert set(ids_of(history, 0)) == {1}
    assert set(ids_of(history, 1)) == {2}
    assert 1 in history[-1]


@dataclass
class Box:
    """A box of any size moving at constant velocity (class and detector misses given)."""

    key: int
    class_id: int
    center: tuple[float, float]
    size: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    frames: range = range(10**9)

    def box(self, frame: int) -> list[float]:
        cx = self.center[0] + self.velocity[0] * frame
        cy = self.center[1] + self.velocity[1] * frame
        w, h = self.size
        return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


PERSON, CAR, BUS = 0, 2, 5


@pytest.mark.parametrize(
    ("front", "people"),
    [
        # A bus pulls up in front of a person waiting at a stop: the person is hidden from the
        # frame the bus appears; another person walks past in front of the bus.
        (
            Box(10, BUS, (650.0, 300.0), (250.0, 150.0), (-2.0, 0.0), range(40, 200)),
            [
                Box(0, PERSON, (520.0, 300.0), (60.0, 150.0), frames=range(40)),
                Box(1, PERSON, (300.0, 320.0), (60.0, 150.0), (3.0, 0.0), range(200)),
            ],
        ),
        # A car stops in front of a standing person.
        (
            Box(10, CAR, (470.0, 400.0), (140.0, 90.0), (-1.0, 0.0), range(30, 120)),
            [Box(0, PERSON, (440.0, 400.0), (50.0, 120.0), frames=range(30))],
        ),
    ],
)
def test_a_track_keeps_its_class_in_a_scene_of_mixed_overlapping_classes(
    front: Box, people: list[Box]
) -> None:
    """A large box appearing over a person is a new object of its own class: it is neither
    labelled with the person's class nor given the person's id."""
    tracker = ByteTracker(TrackParams())
    boxes = [front, *people]
    ids_by_key: dict[int, set[int]] = {}
    for f in range(200):
        rows = [b for b in boxes if f in b.frames]
        if not rows:
            continue
        det = Detections.from_arrays(
            [b.box(f) for b in rows], [0.9] * len(rows), [b.class_id for b in rows]
        )
        out = tracker.update(det)
        for key, track_id in assign_keys(out, det, [b.key for b in rows]).items():
            ids_by_key.setdefault(key, set()).add(track_id)
        row_class = {
            tuple(map(float, b)): int(c) for b, c in zip(det.xyxy, det.class_id, strict=True)
        }
        for box, class_id in zip(out.xyxy, out.class_id, strict=True):
            assert int(class_id) == row_class[tuple(map(float, box))], f"frame {f}"
    assert len(ids_by_key[front.key]) == 1
    assert ids_by_key[front.key].isdisjoint(set().union(*(ids_by_key[p.key] for p in people)))


def test_a_young_track_keeps_still_through_an_occlusion() -> None:
    """ByteTrack confirms a track on its second detection without moving it forward first
    (no Kalman predict on a tentative track), so a jittered second detection gives it no
    velocity: a still object seen twice and then hidden for most of the lost buffer is found
    again where it was, with its id."""
    anchor = Obj(0, (100.0, 100.0), (0.0, 0.0))  # makes frame 0 pass, so the next track is new
    tracker = ByteTracker(TrackParams(lost_buffer_frames=30))
    run(tracker, [anchor], 1)
    still = [400.0, 300.0, 440.0, 380.0]
    jittered = [412.0, 300.0, 452.0, 380.0]  # the second detection, 12 px off
    seen: list[int] = []
    for f in range(1, 40):
        boxes = [anchor.box(f)]
        if f == 1:
            boxes.append(still)
        elif f == 2:
            boxes.append(jittered)
        elif f >= 28:
            boxes.append(still)
        out = tracker.update(Detections.from_arrays(boxes, [0.9] * len(boxes), [0] * len(boxes)))
        seen.extend(int(t) for t in out.tracker_id if t != 1)
    assert set(seen) == {2}, seen


def test_an_object_coming_out_of_hiding_at_a_low_score_is_found_again_at_once() -> None:
    """Hidden for 5 frames, the object comes back partly occluded (score 0.3) for 10 frames:
    its lost track takes those low-score detections, so it is returned, with its id, from the
    frame it reappears rather than from when it scores high again."""
    obj = Obj(
        0,
        (100.0, 200.0),
        (4.0, 0.0),
        hidden=tuple(range(20, 25)),
        low_score_frames=tuple(range(25, 35)),
    )
    history = run(ByteTracker(TrackParams()), [obj], 50)
    assert all(h == {0: 1} for h in history[25:50])


@pytest.mark.parametrize("missed", [1, 2])
def test_a_new_object_missed_on_its_second_frame(missed: int) -> None:
    """A new object missed on the frame after it first appears keeps its young track for one
    frame: seen again next, it is confirmed and returned then (id 2). Missed two frames in a
    row, its young track is dropped and the object starts over."""
    objs = [
        Obj(0, (100.0, 200.0), (3.0, 0.0)),
        Obj(1, (500.0, 400.0), (-3.0, 0.0), first=10, hidden=tuple(range(11, 11 + missed))),
    ]
    history = run(ByteTracker(TrackParams()), objs, 30)
    back = 11 + missed
    assert (1 in history[back]) == (missed == 1)
    assert history[back + 1] == {0: 1, 1: 2}
    assert set(ids_of(history, 1)) == {2}
