"""Errors raised by :mod:`aios.agent`.

:class:`AgentError` is the root of every exception the agent raises on purpose. Third-party
errors (ONNX Runtime, OpenCV, paho-mqtt) are translated into these at one boundary each, so
that the CLI can print a clear message instead of a stack trace.
"""

from __future__ import annotations


class AgentError(Exception):
    """Root exception of ``aios.agent``."""


class ConfigError(AgentError, ValueError):
    """A local config file or setting is invalid; the message names the file and field."""


class ModelError(AgentError):
    """A model is missing, corrupt, or not a YOLOv8 detector."""


class InputError(AgentError, ValueError):
    """A frame or image given to the detector cannot be used (empty, wrong dtype or shape)."""


class SourceError(AgentError):
    """A camera or video source failed; the message names the source."""


class TransportError(AgentError):
    """The MQTT transport or the spool failed."""
