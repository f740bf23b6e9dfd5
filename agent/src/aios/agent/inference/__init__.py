"""The agent's inference engine: YOLOv8 ONNX models on ONNX Runtime.

:class:`~aios.agent.inference.detector.Detector` turns BGR frames into
:class:`~aios.agent.detections.Detections`; :class:`~aios.agent.inference.frame_policy.FramePolicy`
decides which frames are worth running it on; :mod:`~aios.agent.inference.model_store` finds
or downloads the model file. Errors are those of :mod:`aios.agent.errors`.
"""

from __future__ import annotations

from aios.agent.inference.detector import Detector
from aios.agent.inference.frame_policy import FramePolicy
from aios.agent.inference.model_store import resolve_model

__all__ = ["Detector", "FramePolicy", "resolve_model"]
