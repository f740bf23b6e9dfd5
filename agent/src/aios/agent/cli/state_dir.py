"""Where the CLI commands find the agent's state directory: ``--state-dir``, else the config
file's ``state_dir``, else ``AIOS_AGENT_STATE_DIR``, else the default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from aios.agent.config import DEFAULT_STATE_DIR, ENV_PREFIX, AgentConfig, load_config


def resolve_state_dir(
    state_dir: Path | None,
    config: AgentConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    if state_dir is not None:
        return state_dir.expanduser().resolve()
    if config is not None:
        return config.state_dir
    env = os.environ if environ is None else environ
    return Path(env.get(ENV_PREFIX + "STATE_DIR", DEFAULT_STATE_DIR)).expanduser().resolve()


def optional_config(path: Path | None) -> AgentConfig | None:
    """The config at ``path`` (raising :class:`ConfigError`), or ``None`` without one."""
    return None if path is None else load_config(path)
