"""Agent configs for in-process tests: device ``acme/edge-1``, no environment read."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aios.agent.config import AgentConfig, build_config

DEVICE = {"org_id": "acme", "device_id": "edge-1"}


def agent_config(
    tmp_path: Path,
    model_path: Path,
    pipeline: Mapping[str, object],
    extra: Mapping[str, object] | None = None,
) -> AgentConfig:
    """A config running ``pipeline`` with state under ``tmp_path/state``; ``extra`` adds or
    replaces top-level sections (``apply``, ``heartbeat_interval_s``, ...)."""
    return build_config(
        {
            "device": DEVICE,
            "state_dir": str(tmp_path / "state"),
            "model_path": str(model_path),
            "pipeline": dict(pipeline),
            **(extra or {}),
        },
        environ={},
    )
