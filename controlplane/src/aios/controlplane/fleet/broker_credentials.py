"""Device MQTT logins as brokers see them: the ``device_credentials`` table behind a
:class:`~aios.controlplane.brokers.emqx.CredentialsLookup`.

Brokers ask without a caller (the MQTT login is the credential), so the lookups read every
organization explicitly (system scope) and match on both the organization and the device of
the user name (``{device_id}@{org_id}``). The bound client id is
:func:`aios.shared.topics.device_client_id`, the one the agent connects with.

* :class:`SessionCredentialsLookup`: in a request's session (the EMQX HTTP hook);
* :class:`EngineCredentialsLookup`: one short session per lookup (the embedded broker).
"""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from aios.controlplane.brokers.access import DeviceIdentity
from aios.controlplane.brokers.emqx import BrokerCredential, CredentialsLookup
from aios.controlplane.db.models import DeviceCredential
from aios.controlplane.db.scoped_session import bind_scope, scoped_sessionmaker, session_info
from aios.controlplane.tenancy import SystemScope
from aios.shared.topics import device_client_id


async def _credential(session: AsyncSession, device: DeviceIdentity) -> BrokerCredential | None:
    row = await session.scalar(
        select(DeviceCredential).where(
            DeviceCredential.device_id == device.device_id,
            DeviceCredential.org_id == device.org_id,
        )
    )
    if row is None:
        return None
    return BrokerCredential(
        org_id=row.org_id,
        device_id=row.device_id,
        password_hash=row.password_hash,
        client_id=device_client_id(row.org_id, row.device_id),
    )


class SessionCredentialsLookup:
    """Lookups in ``session``, which must be in system scope (every organization)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def __call__(self, device: DeviceIdentity, /) -> BrokerCredential | None:
        return await _credential(self._session, device)


class EngineCredentialsLookup:
    """Each lookup in its own short, read-only, system-scoped session."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = scoped_sessionmaker(engine)

    async def __call__(self, device: DeviceIdentity, /) -> BrokerCredential | None:
        async with self._sessions(
            info=session_info(SystemScope(path="MQTT broker login"))
        ) as session:
            return await _credential(session, device)


async def provide_broker_credentials(
    db_session: NamedDependency[AsyncSession], system_scope: NamedDependency[SystemScope]
) -> CredentialsLookup:
    """The ``broker_credentials`` dependency of the EMQX hook."""
    return SessionCredentialsLookup(bind_scope(db_session, system_scope))
