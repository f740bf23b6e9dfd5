"""`aios-agent run`: run the pipeline of a config file until stopped."""

from __future__ import annotations

import asyncio
import enum
from pathlib import Path
from typing import Annotated

import typer

from aios.agent.cli.state_dir import CONFIG_HELP, process_environment, resolve_config
from aios.agent.errors import AgentError
from aios.agent.log_setup import FORMAT_ENV, setup_logging


class LogFormatChoice(str, enum.Enum):
    console = "console"
    json = "json"


def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help=CONFIG_HELP)] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds.")
    ] = None,
    fast: Annotated[
        bool, typer.Option("--fast", help="Read video files as fast as possible, not at their fps.")
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING...")] = "INFO",
    log_format: Annotated[
        LogFormatChoice,
        typer.Option("--log-format", envvar=FORMAT_ENV, help="console (text) or json lines."),
    ] = LogFormatChoice.console,
) -> None:
    """Run the agent: cameras -> detection -> MQTT, with heartbeats, until SIGINT/SIGTERM."""
    setup_logging(log_level, log_format.value)
    try:
        from aios.agent.runtime import Agent, RunOptions

        settings = resolve_config(config, process_environment())
        agent = Agent(settings, options=RunOptions(duration_s=duration, file_realtime=not fast))
        asyncio.run(agent.run())
    except AgentError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("run")(run)
