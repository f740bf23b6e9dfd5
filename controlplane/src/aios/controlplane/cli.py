"""The ``aios`` command: ``serve``, ``ingest`` (alone, for scale-out), ``invite`` and
``db upgrade``.

Settings are built once here from the environment and passed down. What a newcomer meets first
(no schema yet, no database, a port in use) is checked before starting
(:mod:`aios.controlplane.preflight`) and printed as one ``error:`` line, exit status 2.
Heavy modules (SQLAlchemy, Alembic, Litestar) are imported inside the commands, so that
``aios --help`` starts fast.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from aios.controlplane.errors import ControlPlaneError
from aios.controlplane.operator import commands as operator_commands

if TYPE_CHECKING:
    from aios.controlplane.settings import Settings

HEAD = "head"
T = TypeVar("T")

# Plain help (no rich_markup_mode): Typer's rich formatter imports rich.markdown and pygments,
# most of `aios --help`'s start-up time.
cli = typer.Typer(
    name="aios", help="AIOS control plane.", no_args_is_help=True, rich_markup_mode=None
)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True, rich_markup_mode=None)
cli.add_typer(db_cli, name="db")


def fail(exc: ControlPlaneError) -> typer.Exit:
    """Print ``exc`` as one ``error:`` line; the exit to raise (status 2)."""
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def run_checked(main: Callable[[], Awaitable[T]]) -> T:
    """``asyncio.run(main())``: a control-plane error is one line and exit status 2, Ctrl-C
    a quiet exit 130."""
    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except ControlPlaneError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _settings() -> Settings:
    from aios.controlplane.settings import Settings

    try:
        settings = Settings.from_env(os.environ)
    except ControlPlaneError as exc:
        raise fail(exc) from None
    from aios.controlplane import log_setup

    log_setup.configure(settings.log_level, settings.log_format)
    return settings


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
) -> None:
    """Run the API (plus, by default, the ingest and the embedded MQTT broker)."""
    from aios.controlplane.preflight import check_port

    settings = _settings()
    try:
        check_port(host, port, "the API", "choose another with --port")
        if settings.embedded_broker:
            check_port(
                settings.embedded_mqtt_host,
                settings.embedded_mqtt_port,
                "the embedded MQTT broker",
                "set AIOS_EMBEDDED_MQTT_PORT to a free port (or AIOS_MQTT_URL to a broker)",
            )
    except ControlPlaneError as exc:
        raise fail(exc) from None
    run_checked(lambda: _check_database(settings, schema=True))

    import uvicorn

    from aios.controlplane import log_redaction
    from aios.controlplane.app import create_app

    # Forwarded headers are believed only from the proxies the operator named (uvicorn's own
    # default trusts 127.0.0.1, which let anything on the host pick its client address).
    trusted = settings.trusted_proxies
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,  # its loggers go through ours (log_setup), access log included
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) if trusted else "",
    )
    # After uvicorn configured its loggers: the WebSocket's token is in its URL.
    log_redaction.install()
    server = uvicorn.Server(config)
    _stop_signals_exit_zero()
    server.run()
    if not server.started:  # as uvicorn.run does: the application failed to start
        raise typer.Exit(3)


def _stop_signals_exit_zero() -> None:
    """Make SIGINT and SIGTERM, once uvicorn has shut down because of them, end the process
    with status 0.

    uvicorn handles both while it serves, then raises the signal again to the handler that was
    in place before it started: Python's defaults would kill a process that has just shut down
    cleanly with that signal (status -15, or a ``KeyboardInterrupt`` traceback), which
    supervisors report as a crash. An operator's stop is the expected way to end.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped)


def _stopped(signum: int, frame: FrameType | None) -> None:
    """The handler uvicorn's re-raised stop signal reaches: the server is already down."""


async def _check_database(settings: Settings, *, schema: bool) -> None:
    from aios.controlplane.db.engine import create_engine
    from aios.controlplane.preflight import check_database

    engine = create_engine(settings)
    try:
        await check_database(engine, schema=schema)
    finally:
        await engine.dispose()


@cli.command()
def ingest() -> None:
    """Run the MQTT ingest alone (no API, no embedded broker): scale out with several."""
    settings = _settings()
    if settings.embedded_broker:
        typer.echo("error: `aios ingest` needs an external broker (AIOS_MQTT_URL)", err=True)
        raise typer.Exit(2)
    run_checked(lambda: _check_database(settings, schema=True))

    from aios.controlplane.db.engine import create_engine
    from aios.controlplane.system.metrics import ControlPlaneMetrics
    from aios.controlplane.telemetry.ingest import IngestService

    async def run() -> None:
        engine = create_engine(settings)
        service = IngestService(settings, engine)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        metrics = None
        if settings.metrics_enabled and settings.metrics_port:
            metrics = ControlPlaneMetrics(engine, service, None).serve(settings.metrics_port)
        await service.start()
        try:
            await stop.wait()
        finally:
            await service.stop()
            await engine.dispose()
            if metrics is not None:
                metrics.shutdown()
                metrics.server_close()

    run_checked(run)


@cli.command()
def invite(
    hours: Annotated[int, typer.Option(min=1, max=24 * 90, help="Valid this long.")] = 72,
    note: Annotated[str, typer.Option(help="Who it is for (kept with it).")] = "",
) -> None:
    """Print a single-use invitation to register an organization (AIOS_REGISTRATION=invite)."""
    from aios.controlplane.accounts.invitations import create_invitation
    from aios.controlplane.db.engine import create_engine

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
    revision: Annotated[str, typer.Argument(help="Target revision.")] = HEAD,
) -> None:
    """Apply the migrations up to REVISION (default: the latest)."""
    settings = _settings()
    from aios.controlplane.db import migrate
    from aios.controlplane.db.engine import create_engine
    from aios.controlplane.db.progress import migration_progress
    from aios.controlplane.preflight import check_database

    async def run() -> str | None:
        engine = create_engine(settings)
        try:
            await check_database(engine, schema=False)
            before = await migrate.current_revision(engine)
            if before is not None:
                typer.echo(f"database at revision {before}; upgrading to {revision}", err=True)
            else:
                typer.echo(f"empty database; creating the schema up to {revision}", err=True)
            steps = await migrate.pending(engine, revision)
            with migration_progress(len(steps)) as applied:
                await migrate.upgrade(engine, revision, on_applied=applied)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    typer.echo(f"database at revision {run_checked(run)}")


operator_commands.register(cli)


def main() -> None:
    cli()
