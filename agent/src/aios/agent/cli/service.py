"""``aios-agent service install``: write the systemd unit (``--dry-run`` prints it only).

Without ``--dry-run`` it writes the unit and runs ``systemctl daemon-reload`` and
``enable --now``; with it, nothing is written and ``systemctl`` is never called.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from aios.agent.cli.state_dir import (
    config_path,
    process_environment,
    resolve_config,
    resolve_state_dir,
)
from aios.agent.errors import AgentError
from aios.agent.systemd_unit import SYSTEM_UNIT_DIR, UNIT_NAME, UnitSpec, render_unit, user_unit_dir

service_app = typer.Typer(
    help="Run the agent as a systemd service.", no_args_is_help=True, rich_markup_mode=None
)


def _executable() -> Path:
    found = shutil.which("aios-agent")
    if found:
        return Path(found).resolve()
    return Path(sys.executable).resolve().parent / "aios-agent"


@service_app.command("install")
def install(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Agent config file the service runs (default: AIOS_AGENT_CONFIG, else none, "
            "an enrolled device runs on its enrollment).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the unit; write nothing, run nothing.")
    ] = False,
    user: Annotated[bool, typer.Option("--user", help="A user unit (no root needed).")] = False,
    run_as: Annotated[
        str | None, typer.Option("--run-as", help="System unit: the account to run as.")
    ] = None,
    unit_dir: Annotated[
        Path | None, typer.Option("--unit-dir", help="Where to write the unit (override).")
    ] = None,
) -> None:
    """Write a systemd unit running `aios-agent run [--config CONFIG]` (Restart=always)."""
    from rich.console import Console

    console = Console()
    environment = process_environment()
    config = config_path(config, environment)
    try:
        settings = resolve_config(config, environment)
    except AgentError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    spec = UnitSpec(
        executable=_executable(),
        config=config.expanduser().resolve() if config is not None else None,
        state_dir=resolve_state_dir(None, settings, environment),
        user_mode=user,
        run_as=run_as,
    )
    text = render_unit(spec)
    target = (unit_dir or (user_unit_dir() if user else SYSTEM_UNIT_DIR)) / UNIT_NAME
    if dry_run:
        # Plain text, unwrapped: the output can be piped into a file as is.
        typer.echo(f"# would write {target}\n{text}", nl=False)
        return
    try:
        spec.state_dir.mkdir(parents=True, exist_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.secho(f"error: cannot write {target}: {exc.strerror}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    console.print(f"wrote {target}")
    systemctl = shutil.which("systemctl")
    if systemctl is None or unit_dir is not None:
        console.print(
            f"not enabling: run `systemctl daemon-reload && systemctl enable --now {UNIT_NAME}`",
            highlight=False,
        )
        return
    scope = ["--user"] if user else []
    for args in (["daemon-reload"], ["enable", "--now", UNIT_NAME]):
        done = subprocess.run([systemctl, *scope, *args], check=False)
        if done.returncode != 0:
            typer.secho(f"error: systemctl {' '.join(args)} failed", fg=typer.colors.RED, err=True)
            raise typer.Exit(done.returncode)
    console.print(f"enabled and started {UNIT_NAME}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(service_app, name="service")
