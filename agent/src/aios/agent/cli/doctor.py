"""``aios-agent doctor``: check the model, providers, cameras, broker, clock and disk.

Prints one pass/warn/fail line per check; exits 1 when any check fails (warnings pass).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aios.agent.cli.state_dir import CONFIG_HELP, process_environment, resolve_config
from aios.agent.errors import AgentError

if TYPE_CHECKING:
    from rich.console import Console

    from aios.agent.health_checks import CheckResult

MARKS = {"pass": "[green]PASS[/]", "warn": "[yellow]WARN[/]", "fail": "[red]FAIL[/]"}


def print_results(results: list[CheckResult], console: Console) -> None:
    for result in results:
        console.print(f"{MARKS[result.level]}  {result.name:<16} {result.detail}", highlight=False)


def doctor(
    config: Annotated[Path | None, typer.Option("--config", "-c", help=CONFIG_HELP)] = None,
    camera_timeout: Annotated[
        float, typer.Option("--camera-timeout", help="Seconds to wait for each camera.")
    ] = 10.0,
    broker_timeout: Annotated[
        float, typer.Option("--broker-timeout", help="Seconds to wait for the broker.")
    ] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Check what `aios-agent run` would do with the same config: exit code 1 if any check
    fails."""
    from rich.console import Console

    try:
        settings = resolve_config(config, process_environment())
    except AgentError as exc:
        typer.secho(f"FAIL  config           {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    from aios.agent.health_checks import run_checks

    results = run_checks(settings, camera_timeout_s=camera_timeout, broker_timeout_s=broker_timeout)
    if as_json:
        rows = [{"name": r.name, "level": r.level, "detail": r.detail} for r in results]
        typer.echo(json.dumps(rows))
    else:
        print_results(results, Console())
    if any(r.level == "fail" for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("doctor")(doctor)
