"""Per-frame analytics, pure computation on :class:`~aios.agent.detections.Detections`.

Tracking (:mod:`.tracker`), polygon zones (:mod:`.zones`), directed line crossings
(:mod:`.lines`), rules that turn their state into events (:mod:`.rules`), and drawing for
event snapshots (:mod:`.drawing`). No I/O: the runtime feeds frames and timestamps in.
"""
