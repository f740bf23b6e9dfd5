"""The installed agent's version, as reported in heartbeats and status messages."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    AGENT_VERSION = version("aios-agent")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    AGENT_VERSION = "0.0.0+local"
