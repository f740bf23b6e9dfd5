"""How the CLI commands find the agent's config and state directory, the same way for ``run``,
``doctor``, ``service install`` and ``status``:

- the config: ``--config``, else ``AIOS_AGENT_CONFIG``, else none: an enrolled device runs on
  its enrollment alone (identity and broker from ``credentials.json`` in the state directory,
  the pipeline from the control plane), with ``AIOS_AGENT_*`` overrides either way;
- the state directory: ``--state-dir``, else the config's ``state_dir``, else
  ``AIOS_AGENT_STATE_DIR``, else the default.

Each command reads the environment once (:func:`aios.agent.environment.from_process`) and
passes it here. The config module (YAML, msgspec) is imported when needed, not at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aios.agent.config import AgentConfig
    from aios.agent.environment import AgentEnvironment

CONFIG_HELP = (
    "Agent config file (YAML/TOML/JSON). Default: AIOS_AGENT_CONFIG, else none (an enrolled "
    "device runs on its enrollment)."
)


def process_environment() -> AgentEnvironment:
    """The process's environment, read once (imported here so that ``--help`` stays fast)."""
    from aios.agent.environment import from_process

    return from_process()


def config_path(path: Path | None, environment: AgentEnvironment) -> Path | None:
    """``--config``, else ``AIOS_AGENT_CONFIG``, else ``None``."""
    return path if path is not None else environment.config


def resolve_state_dir(
    state_dir: Path | None, config: AgentConfig | None, environment: AgentEnvironment
) -> Path:
    from aios.agent.config import DEFAULT_STATE_DIR, config_overrides

    if state_dir is not None:
        return state_dir.expanduser().resolve()
    if config is not None:
        return config.state_dir
    value = config_overrides(environment).get("state_dir", DEFAULT_STATE_DIR)
    return Path(str(value)).expanduser().resolve()


def optional_config(path: Path | None, environment: AgentEnvironment) -> AgentConfig | None:
    """The config at ``path`` (raising :class:`ConfigError`), or ``None`` without one."""
    from aios.agent.config import load_config

    return None if path is None else load_config(path, environ=environment.variables)


def resolve_config(path: Path | None, environment: AgentEnvironment) -> AgentConfig:
    """The config ``run`` uses: the file (``--config`` or ``AIOS_AGENT_CONFIG``), else the
    enrollment's credentials alone; raises :class:`ConfigError` saying which is missing."""
    from aios.agent.config import CREDENTIALS_FILE, build_config, load_config
    from aios.agent.errors import ConfigError

    path = config_path(path, environment)
    if path is not None:
        return load_config(path, environ=environment.variables)
    state_dir = resolve_state_dir(None, None, environment)
    if not (state_dir / CREDENTIALS_FILE).exists():
        raise ConfigError(
            f"no config file and this device is not enrolled (no {state_dir / CREDENTIALS_FILE}):"
            " run `aios-agent enroll URL --token TOKEN`, or pass --config FILE"
        )
    return build_config({}, environ=environment.variables)
