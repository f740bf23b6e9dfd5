"""ByteTrack multi-object tracking (Zhang et al., 2022) on :class:`Detections`.

Each frame:

1. every confirmed track (tracked and lost) is moved forward by its Kalman filter; a tentative
   track (seen once) is not: ByteTrack matches it at the place it was first seen, so a young
   track gets no velocity from the jitter between its first two detections;
2. high-score detections (``> high_thresh``) are matched to them by IoU weighted by score,
   optimally (:func:`~aios.agent.analytics.matching.linear_assignment`), pairs with
   ``1 - iou * score >= match_thresh`` refused; a matched lost track is found again;
3. low-score detections (``low_thresh < score <= high_thresh``) are matched to the tracks
   left over (IoU distance below 0.5): a partly occluded object, whose score drops, keeps its
   track, and (beyond ByteTrack, which offers them to tracked tracks only) an object coming
   out from behind another, still scoring low, is found again rather than left lost until it
   scores high and then given a new id;
4. tentative tracks take the remaining high-score detections (IoU distance below 0.7); one
   unmatched for two frames in a row is dropped (ByteTrack drops it at once: a detector
   missing a new object on its second frame cost it its track);
5. remaining high-score detections with ``score >= new_track_thresh`` start tentative tracks;
6. unmatched tracked tracks become lost; a track lost for longer than its buffer is removed.

A lost track found again has its filter re-run over the gap, corrected by virtual
observations on the line from its last match to this one (OC-SORT's observation-centric
re-update, Cao et al., 2023), so it leaves with the velocity the gap shows instead of the
error accumulated predicting blind.

Association is within a class: a track only ever takes detections of the class it started
with, so a bus pulling up over a waiting person is a new bus, not the person's track labelled
``person``. Classes a detector confuses with each other (``car``/``truck``/``bus``) may be put
in one group (``class_groups``): a track then takes any class of its group, keeps a
confidence-weighted vote of the classes it was seen with, and the returned ``class_id`` is the
winner of that vote, stable over the track's life.

Ids: a track gets its id (1, 2, ...) when confirmed (its second match, or on the very first
frame), so tentative false positives do not burn ids. :meth:`ByteTracker.update`
returns the detections matched to confirmed tracks, with their own boxes and ``tracker_id``
set; unmatched detections and lost tracks are not returned.

``lost_buffer_frames`` is counted in frames at 30 fps, as ByteTrack's ``track_buffer``: the
tracker keeps a lost track for ``lost_buffer_frames * frame_rate / 30`` processed frames, the
same time whatever rate the detector runs at (pass the rate of frames given to ``update``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

from aios.agent.analytics.kalman import Float64Array, KalmanFilterXYAH, xyah_to_xyxy, xyxy_to_xyah
from aios.agent.analytics.matching import iou_matrix, linear_assignment
from aios.agent.detections import Detections
from aios.shared.pipeline.nodes import TrackParams

_SECOND_MATCH_THRESH = 0.5  # IoU distance for low-score detections (ByteTrack)
_TENTATIVE_MATCH_THRESH = 0.7  # IoU distance for tentative tracks (ByteTrack)
_DUPLICATE_THRESH = 0.15  # IoU distance under which a lost and a tracked track are one object
_TENTATIVE_FRAMES = 2  # frames a tentative track waits for its second match


class TrackState(Enum):
    TENTATIVE = "tentative"
    TRACKED = "tracked"
    LOST = "lost"


@dataclass(eq=False)
class _Track:
    mean: Float64Array  # (8,)
    covariance: Float64Array  # (8, 8)
    score: float
    start_frame: int
    last_frame: int
    group: int  # association group: the class id, or the group's smallest class id
    observed: tuple[Float64Array, Float64Array, Float64Array] | None = None
    """(measurement, mean, covariance) right after the last match, for re-finding."""
    state: TrackState = TrackState.TENTATIVE
    track_id: int = 0  # 0 until confirmed
    class_votes: dict[int, float] = field(default_factory=dict)

    def vote(self, class_id: int, score: float) -> None:
        self.class_votes[class_id] = self.class_votes.get(class_id, 0.0) + score

    @property
    def class_id(self) -> int:
        return max(self.class_votes.items(), key=lambda kv: kv[1])[0]


class ByteTracker:
    """Stateful tracker for one stream; call :meth:`update` once per processed frame."""

    def __init__(
        self,
        params: TrackParams,
        frame_rate: float = 30.0,
        class_groups: Sequence[Collection[int]] = (),
    ) -> None:
        """``class_groups``: sets of class ids associated as one (a track may change class
        within its group); every other class is associated only with itself."""
        self.params = params
        self._group_of: dict[int, int] = {}
        for group in class_groups:
            for class_id in group:
                if class_id in self._group_of:
                    raise ValueError(f"class {class_id} is in more than one class group")
                self._group_of[class_id] = min(group)
        self.set_frame_rate(frame_rate)
        self._kf = KalmanFilterXYAH()
        self.reset()

    @property
    def lost_buffer_s(self) -> float:
        """How long a lost track is kept, in seconds (``lost_buffer_frames`` at 30 fps)."""
        return self.params.lost_buffer_frames / 30.0

    def set_frame_rate(self, frame_rate: float) -> None:
        """The rate of frames given to :meth:`update`; may change while tracking (the lost
        buffer keeps covering :attr:`lost_buffer_s` seconds)."""
        if frame_rate <= 0:
            raise ValueError(f"frame_rate must be positive, got {frame_rate}")
        self.frame_rate = frame_rate
        self.max_lost_frames = max(1, round(self.params.lost_buffer_frames * frame_rate / 30.0))

    def reset(self) -> None:
        """Forget every track; ids start again at 1."""
        self._tracks: list[_Track] = []
        self._boxes: Float64Array = np.zeros((0, 4), np.float64)
        self._iou: Float64Array = np.zeros((0, 0), np.float64)
        self._det_groups: npt.NDArray[np.int64] = np.zeros(0, np.int64)
        self._frame = 0
        self._next_id = 1

    @property
    def active_track_ids(self) -> list[int]:
        """Ids of the confirmed tracks matched in the last frame."""
        return [t.track_id for t in self._tracks if t.state is TrackState.TRACKED and t.track_id]

    @property
    def lost_track_ids(self) -> list[int]:
        return [t.track_id for t in self._tracks if t.state is TrackState.LOST]

    def update(self, detections: Detections) -> Detections:
        """Advance one frame; the detections of confirmed tracks, ``tracker_id`` set."""
        self._frame += 1
        p = self.params
        scores = detections.confidence
        high = np.nonzero(scores > p.high_thresh)[0]
        low = np.nonzero((scores > p.low_thresh) & (scores <= p.high_thresh))[0]
        assigned = np.full(len(detections), -1, np.int64)  # detection -> index into tracks

        self._predict()
        # Every stage matches on slices of one overlap matrix (tracks x detections).
        self._iou = iou_matrix(self._boxes, detections.xyxy)
        self._det_groups = self._groups(detections.class_id)
        confirmed = [i for i, t in enumerate(self._tracks) if t.state is not TrackState.TENTATIVE]
        tentative = [i for i, t in enumerate(self._tracks) if t.state is TrackState.TENTATIVE]

        # The stages touch disjoint tracks and detections, so the Kalman corrections
        # are batched once all pairs are known.
        # 1st association: high-score detections against tracked and lost tracks.
        first, left_tracks, left_high = self._associate(
            confirmed, high, detections, p.match_thresh, fuse_score=True
        )
        # 2nd association: low-score detections against tracked tracks left over.
        second, unmatched, _ = self._associate(left_tracks, low, detections, _SECOND_MATCH_THRESH)
        unmatched_tracked = [i for i in unmatched if self._tracks[i].state is TrackState.TRACKED]
        # Tentative tracks take what is left of the high-score detections.
        third, dead, left_high = self._associate(
            tentative, left_high, detections, _TENTATIVE_MATCH_THRESH, fuse_score=True
        )
        pairs = first + second + third
        self._apply(pairs, detections)
        for t_idx, d_idx in pairs:
            assigned[d_idx] = t_idx
        for t_idx in unmatched_tracked:
            self._tracks[t_idx].state = TrackState.LOST
        removed = {i for i in dead if self._frame - self._tracks[i].last_frame >= _TENTATIVE_FRAMES}

        # New tentative tracks (confirmed at once on the first frame, as in ByteTrack).
        starts = [d for d in left_high if scores[d] >= p.new_track_thresh]
        if starts:
            assigned[starts] = len(self._tracks) + np.arange(len(starts))
            self._tracks.extend(self._new_tracks(np.asarray(starts, np.int64), detections))

        for i, track in enumerate(self._tracks):
            if (
                track.state is TrackState.LOST
                and self._frame - track.last_frame > self.max_lost_frames
            ):
                removed.add(i)
        removed |= self._duplicates()

        out_ids = np.full(len(detections), -1, np.int64)
        out_classes = detections.class_id.copy()
        for row in np.nonzero(assigned >= 0)[0]:
            t_idx = int(assigned[row])
            track = self._tracks[t_idx]
            if track.state is TrackState.TRACKED and track.track_id and t_idx not in removed:
                out_ids[row] = track.track_id
                out_classes[row] = track.class_id
        self._tracks = [t for i, t in enumerate(self._tracks) if i not in removed]
        keep = out_ids >= 0
        return Detections(
            xyxy=detections.xyxy[keep],
            confidence=detections.confidence[keep],
            class_id=out_classes[keep],
            tracker_id=out_ids[keep],
        )

    def _predict(self) -> None:
        if not self._tracks:
            self._boxes = np.zeros((0, 4), np.float64)
            return
        # Tentative tracks stay where they were first seen (ByteTrack predicts only the pool
        # of tracked and lost tracks): their velocity is zero, and their covariance, without
        # the predict's cross terms, keeps the confirming match from giving them one.
        moving = [t for t in self._tracks if t.state is not TrackState.TENTATIVE]
        if moving:
            mean = np.stack([t.mean for t in moving])
            cov = np.stack([t.covariance for t in moving])
            # A track not seen last frame keeps its course but stops growing (ByteTrack).
            not_tracked = np.array([t.state is not TrackState.TRACKED for t in moving])
            mean[not_tracked, 7] = 0.0
            mean, cov = self._kf.predict(mean, cov)
            for track, m, c in zip(moving, mean, cov, strict=True):
                track.mean, track.covariance = m, c
        # Predicted boxes, indexed like self._tracks.
        self._boxes = xyah_to_xyxy(np.stack([t.mean for t in self._tracks]))

    def _associate(
        self,
        track_idx: list[int],
        det_idx: npt.NDArray[np.intp] | list[int],
        detections: Detections,
        thresh: float,
        *,
        fuse_score: bool = False,
    ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        """Optimal IoU matching of some tracks to some detections, within class groups:
        (pairs of (track index, detection index), unmatched track indices, unmatched detection
        indices)."""
        dets = np.asarray(det_idx, dtype=np.int64)
        if not track_idx or dets.size == 0:
            return [], list(track_idx), [int(d) for d in dets]
        similarity = self._iou[np.ix_(np.asarray(track_idx, np.int64), dets)]
        if fuse_score:
            similarity *= detections.confidence[dets][None, :]
        track_groups = np.array([self._tracks[i].group for i in track_idx], np.int64)
        similarity[track_groups[:, None] != self._det_groups[dets][None, :]] = 0.0  # never matched
        matches, rows, cols = linear_assignment(1.0 - similarity, thresh)
        pairs = [(track_idx[r], int(dets[c])) for r, c in matches]
        return pairs, [track_idx[r] for r in rows], [int(dets[c]) for c in cols]

    def _apply(self, pairs: list[tuple[int, int]], detections: Detections) -> None:
        """Correct the matched tracks with their detections (one batched Kalman update)."""
        if not pairs:
            return
        tracks = [self._tracks[t_idx] for t_idx, _ in pairs]
        rows = np.array([d_idx for _, d_idx in pairs], np.int64)
        measured = xyxy_to_xyah(detections.xyxy[rows])
        found = [k for k, t in enumerate(tracks) if t.state is TrackState.LOST and t.observed]
        if found:
            self._replay([tracks[k] for k in found], measured[found])
        mean, cov = self._kf.update(
            np.stack([t.mean for t in tracks]),
            np.stack([t.covariance for t in tracks]),
            measured,
        )
        for k, (track, d_idx) in enumerate(zip(tracks, rows, strict=True)):
            track.mean, track.covariance = mean[k], cov[k]
            track.observed = (measured[k], mean[k], cov[k])
            score = float(detections.confidence[d_idx])
            track.score = score
            track.last_frame = self._frame
            track.vote(int(detections.class_id[d_idx]), score)
            track.state = TrackState.TRACKED
            if not track.track_id:
                track.track_id = self._take_id()

    def _replay(self, tracks: list[_Track], measured: Float64Array) -> None:
        """Lost tracks found again: re-run their filters over the gap from their last match,
        corrected by virtual observations on the straight line between that match and this
        one (OC-SORT's observation-centric re-update), so that the velocity a track leaves
        with is the one the gap shows rather than the drift of predicting blind."""
        observed = [t.observed for t in tracks if t.observed is not None]
        last = np.stack([o[0] for o in observed])
        mean = np.stack([o[1] for o in observed])
        cov = np.stack([o[2] for o in observed])
        gaps = np.array([self._frame - t.last_frame for t in tracks], np.float64)
        for i in range(1, int(gaps.max())):
            on = gaps > i
            m, c = self._kf.predict(mean[on], cov[on])
            step = (i / gaps[on])[:, None]
            virtual = last[on] + (measured[on] - last[on]) * step
            mean[on], cov[on] = self._kf.update(m, c, virtual)
        mean, cov = self._kf.predict(mean, cov)
        for track, m, c in zip(tracks, mean, cov, strict=True):
            track.mean, track.covariance = m, c

    def _new_tracks(self, rows: npt.NDArray[np.int64], detections: Detections) -> list[_Track]:
        """Tentative tracks from some detections (confirmed at once on the first frame)."""
        measured = xyxy_to_xyah(detections.xyxy[rows])
        means, covs = self._kf.initiate(measured)
        tracks = []
        for z, mean, cov, d_idx in zip(measured, means, covs, rows, strict=True):
            score = float(detections.confidence[d_idx])
            track = _Track(
                mean=mean,
                covariance=cov,
                score=score,
                start_frame=self._frame,
                last_frame=self._frame,
                group=int(self._det_groups[d_idx]),
                observed=(z, mean, cov),
            )
            track.vote(int(detections.class_id[d_idx]), score)
            if self._frame == 1:
                track.state = TrackState.TRACKED
                track.track_id = self._take_id()
            tracks.append(track)
        return tracks

    def _groups(self, class_id: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
        """The association group of each class id."""
        if not self._group_of:
            return class_id.astype(np.int64)
        return np.fromiter((self._group_of.get(int(c), int(c)) for c in class_id), np.int64)

    def _take_id(self) -> int:
        track_id = self._next_id
        self._next_id += 1
        return track_id

    def _duplicates(self) -> set[int]:
        """Indices of lost tracks overlapping a tracked one almost exactly: the tracked one
        (younger: a new track started on the same object) or the lost one, whichever has the
        shorter history, goes (ByteTrack's ``remove_duplicate_stracks``), within a class group."""
        tracked = [i for i, t in enumerate(self._tracks) if t.state is TrackState.TRACKED]
        lost = [i for i, t in enumerate(self._tracks) if t.state is TrackState.LOST]
        if not tracked or not lost:
            return set()
        boxes = xyah_to_xyxy(np.stack([t.mean for t in self._tracks]))
        distance = 1.0 - iou_matrix(boxes[tracked], boxes[lost])
        out: set[int] = set()
        for r, c in zip(*np.nonzero(distance < _DUPLICATE_THRESH), strict=True):
            a, b = self._tracks[tracked[r]], self._tracks[lost[c]]
            if a.group != b.group:
                continue
            age_a, age_b = self._frame - a.start_frame, b.last_frame - b.start_frame
            out.add(lost[c] if age_a > age_b else tracked[r])
        return out
