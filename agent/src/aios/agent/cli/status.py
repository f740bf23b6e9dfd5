"""``aios-agent status``: what the state directory says (identity, last good pipeline, spool,
seq), as a table or ``--json``. Works while the agent runs (read-only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aios.agent.cli.state_dir import optional_config, process_environment, resolve_state_dir
from aios.agent.errors import AgentError

if TYPE_CHECKING:
    from rich.table import Table

    from aios.agent.state_report import AgentState


def _table(state: AgentState) -> Table:
    from rich.table import Table

    table = Table(title="aios-agent status", show_header=False)
    dash = "-"
    table.add_row("state dir", state.state_dir)
    table.add_row("enrolled", "yes" if state.enrolled else "no")
    table.add_row("device id", state.device_id or dash)
    table.add_row("organization", state.org_id or dash)
    table.add_row("broker", state.broker or dash)
    table.add_row("control plane", state.control_plane_url or dash)
    if state.pipeline_version is None:
        table.add_row("last good pipeline", dash)
    else:
        table.add_row("last good pipeline", f"{state.pipeline_id} v{state.pipeline_version}")
    spool = state.spool
    if spool is None:
        table.add_row("spool", "none yet")
    else:
        table.add_row("spool depth", f"{spool.depth} messages, {spool.bytes} bytes")
        table.add_row(
            "spool drops",
            f"{spool.dropped_detections} detection batches, {spool.dropped_events} events",
        )
    table.add_row("next seq", dash if state.next_seq is None else str(state.next_seq))
    for problem in state.problems:
        table.add_row("[yellow]problem[/]", problem)
    return table


def status(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Agent config file (for state_dir).")
    ] = None,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="State directory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the device identity, last good pipeline, spool depth and drops, and next seq."""
    from rich.console import Console

    from aios.agent.state_report import read_state

    try:
        environment = process_environment()
        settings = optional_config(config, environment)
        state = read_state(
            resolve_state_dir(state_dir, settings, environment),
            spool_path=settings.spool_path if settings and state_dir is None else None,
            device_id=settings.device.device_id if settings else None,
            org_id=settings.device.org_id if settings else None,
        )
    except AgentError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(state.to_json(), sort_keys=True))
    else:
        Console().print(_table(state))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("status")(status)
