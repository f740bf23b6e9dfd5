"""``aios users create-owner``: the first organization and its owner, written to the database
directly (the same registration the API's ``/auth/register`` performs)."""

from __future__ import annotations

from aios.controlplane.settings import Settings


async def create_owner(
    settings: Settings, *, email: str, password: str, full_name: str, org_name: str
) -> tuple[str, str]:
    """Create them; returns (organization id, user id). Raises ControlPlaneError (e.g. a taken
    email, or a database without the schema)."""
    from aios.controlplane.accounts.ratelimit import LoginLimiter
    from aios.controlplane.accounts.services import AuthService
    from aios.controlplane.accounts.tokens import TokenCodec
    from aios.controlplane.db.engine import create_engine
    from aios.controlplane.db.scoped_session import scoped_sessionmaker, session_info
    from aios.controlplane.preflight import check_database
    from aios.controlplane.tenancy import SystemScope

    engine = create_engine(settings)
    try:
        await check_database(engine, schema=True)
        codec = TokenCodec(
            settings.secret_key.get(),
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
        )
        service = AuthService(codec, LoginLimiter())
        sessions = scoped_sessionmaker(engine)
        async with sessions(
            info=session_info(SystemScope(path="aios users create-owner"))
        ) as session:
            org, user = await service.create_owner(
                session, email=email, password=password, full_name=full_name, org_name=org_name
            )
            await session.commit()
            return str(org.id), str(user.id)
    finally:
        await engine.dispose()
