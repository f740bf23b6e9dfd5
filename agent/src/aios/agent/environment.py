"""The agent's environment: read once per process (:func:`from_process`) and passed down.

Two kinds of ``AIOS_AGENT_*`` variables exist. Those of :class:`AgentEnvironment` belong to the
process (which config file, where the cache is); those of the config file's fields override the
file (``AIOS_AGENT_MQTT_URL`` overrides ``mqtt.url``; declared on the config's Structs in
:mod:`aios.agent.config`). Both are declared once, read by :mod:`aios.shared.envvars` (an empty
variable is unset, secrets accept ``NAME_FILE``), and listed in ``docs/configuration.md``,
generated from the declarations.

``AIOS_MODEL_PATH``, the model variable documented before the agent's variables had one
prefix, still works as ``AIOS_AGENT_MODEL_PATH`` with a deprecation warning.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from msgspec import Meta, Struct

from aios.agent.errors import ConfigError
from aios.shared import envvars
from aios.shared.envvars import EnvVarError, describe

log = logging.getLogger(__name__)

ENV_PREFIX = "AIOS_AGENT_"
DEPRECATED_MODEL_PATH = "AIOS_MODEL_PATH"
MODEL_PATH = "AIOS_AGENT_MODEL_PATH"
CLI_VARIABLES = frozenset({"AIOS_AGENT_ENROLL_TOKEN"})
"""Variables of command-line options (``aios-agent enroll --token``), read by the CLI."""


class AgentEnvironment(Struct, frozen=True, kw_only=True):
    """The process's own ``AIOS_AGENT_*`` settings, and the variables as the process started."""

    # fmt: off
    config: Annotated[Path | None, describe("config file of `run`, `doctor` and `service install` (`--config` wins); unset: an enrolled device runs on its enrollment")] = None
    cache_dir: Annotated[Path, describe("the agent's cache: fetched models in `models/`, TensorRT engines in `trt/`")] = Path("~/.cache/aios")
    manifest: Annotated[Path | None, describe("another model manifest file (tests, private mirrors)", default_doc="the packaged one")] = None
    export_command: Annotated[str, describe("command exporting a verified `.pt` to ONNX; `{python}`, `{pt}`, `{onnx}`, `{imgsz}`, `{opset}` are replaced", default_doc="Ultralytics if installed, else `yolo`")] = ""
    variables: Annotated[dict[str, str], Meta(extra={"internal": True})] = {}
    # fmt: on
    """The ``AIOS_*`` variables the process started with (the config's overrides among them)."""

    @property
    def cache_root(self) -> Path:
        return self.cache_dir.expanduser()

    @property
    def models_dir(self) -> Path:
        return self.cache_root / "models"


def read_environment(environ: Mapping[str, str], *, warn: bool = False) -> AgentEnvironment:
    """The agent's environment from ``environ``; with ``warn``, log what it ignores or
    renames. Raises :class:`ConfigError` naming a variable with a bad value."""
    variables = {k: v for k, v in environ.items() if k.startswith("AIOS_")}
    legacy = variables.pop(DEPRECATED_MODEL_PATH, None)
    if legacy:
        used = "ignored" if variables.get(MODEL_PATH) else "used"
        variables[MODEL_PATH] = variables.get(MODEL_PATH) or legacy
        if warn:
            log.warning(
                "%s is deprecated (%s here): set %s instead",
                DEPRECATED_MODEL_PATH,
                used,
                MODEL_PATH,
            )
    if warn:
        for line in envvars.unknown(variables, ENV_PREFIX, known_variables()):
            log.warning("%s", line)
    try:
        found = envvars.overrides(AgentEnvironment, variables, ENV_PREFIX)
    except EnvVarError as exc:
        raise ConfigError(str(exc)) from None
    return AgentEnvironment(**found, variables=variables)


def known_variables() -> set[str]:
    """Every ``AIOS_AGENT_*`` variable the agent declares."""
    from aios.agent.config import config_variables

    return envvars.names(AgentEnvironment, ENV_PREFIX) | config_variables() | CLI_VARIABLES


def from_process() -> AgentEnvironment:
    """The process's environment: the one place the agent reads ``os.environ`` (each command
    calls it once and passes the result down)."""
    return read_environment(os.environ, warn=True)
