"""``aios-agent enroll URL --token T``: exchange an enrollment token for device credentials.

The credentials (device and organization ids, MQTT broker and login) are stored in the state
directory with mode 0600; an existing file is only replaced with ``--force``. Neither the token
nor the password is ever printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aios.agent.cli.state_dir import process_environment, resolve_state_dir
from aios.agent.errors import AgentError


def enroll(
    url: Annotated[str, typer.Argument(help="Control plane base URL, e.g. https://aios.example")],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="AIOS_AGENT_ENROLL_TOKEN",
            help="Enrollment token (shown once).",
            show_envvar=True,
        ),
    ],
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="Where to store the credentials.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Device name (default: the hostname).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace credentials from an earlier enrollment.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="HTTP timeout, seconds.")] = 15.0,
) -> None:
    """Enroll this device with the control plane and store its credentials (mode 0600)."""
    from rich.console import Console
    from rich.table import Table

    from aios.agent.config import CREDENTIALS_FILE
    from aios.agent.credentials import CredentialsExistError, save_credentials

    console = Console()
    target = resolve_state_dir(state_dir, None, process_environment()) / CREDENTIALS_FILE
    if target.exists() and not force:
        typer.secho(
            f"error: {target} exists: this device is already enrolled "
            "(use --force to enroll it again)",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(1)
    try:
        from aios.agent.enrollment import enroll as enroll_device

        credentials = enroll_device(url, token, name=name, timeout_s=timeout)
        save_credentials(target, credentials, force=force)
    except CredentialsExistError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    except (AgentError, OSError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    table = Table(title="Enrolled", show_header=False)
    table.add_row("device id", credentials.device_id)
    table.add_row("organization", credentials.org_id)
    table.add_row("broker", credentials.mqtt.url)
    table.add_row("mqtt user", credentials.mqtt.username)
    table.add_row("topic prefix", credentials.mqtt.topic_prefix)
    table.add_row("credentials", f"{target} (0600)")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("enroll")(enroll)
