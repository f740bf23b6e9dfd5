"""The ``aios`` command: ``serve``, ``ingest`` (alone, for scale-out), ``invite`` and
``db upgrade``.

Settings are built once here from the environment and passed down.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Annotated

import typer

from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from aios.controlplane.errors import ControlPlaneError
from aios.controlplane.settings import Settings

cli = typer.Typer(name="aios", help="AIOS control plane.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


def _settings() -> Settings:
    try:
        settings = Settings.from_env(os.environ)
    except ControlPlaneError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Libraries that log every tick or state transition at INFO: keep them to warnings unless
    # the operator asked for DEBUG.
    if settings.log_level != "DEBUG":
        for noisy in ("apscheduler", "transitions", "amqtt"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return settings


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
) -> None:
    """Run the API (plus, by default, the ingest and the embedded MQTT broker)."""
    import uvicorn

    from aios.controlplane.app import create_app

    settings = _settings()
    # Forwarded headers are believed only from the proxies the operator named (uvicorn's own
    # default trusts 127.0.0.1, which let anything on the host pick its client address).
    trusted = settings.trusted_proxies
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) if trusted else "",
    )


@cli.command()
def ingest() -> None:
    """Run the MQTT ingest alone (no API, no embedded broker): scale out with several."""
    from aios.controlplane.telemetry.ingest import IngestService

    settings = _settings()
    if settings.embedded_broker:
        typer.echo("error: `aios ingest` needs an external broker (AIOS_MQTT_URL)", err=True)
        raise typer.Exit(2)

    async def run() -> None:
        engine = create_engine(settings)
        service = IngestService(settings, engine)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.start()
        try:
            await stop.wait()
        finally:
            await service.stop()
            await engine.dispose()

    asyncio.run(run())


@cli.command()
def invite(
    hours: Annotated[int, typer.Option(min=1, max=24 * 90, help="Valid this long.")] = 72,
    note: Annotated[str, typer.Option(help="Who it is for (kept with it).")] = "",
) -> None:
    """Print a single-use invitation to register an organization (AIOS_REGISTRATION=invite)."""
    from aios.controlplane.accounts.invitations import create_invitation

    settings = _settings()

    async def run() -> str:
        engine = create_engine(settings)
        try:
            return await create_invitation(engine, ttl_s=hours * 3600, note=note)
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()))


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = migrate.HEAD,
) -> None:
    """Apply the migrations up to REVISION (default: the latest)."""
    settings = _settings()

    async def run() -> str | None:
        engine = create_engine(settings)
        try:
            await migrate.upgrade(engine, revision)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database at revision {asyncio.run(run())}")


def main() -> None:
    cli()
