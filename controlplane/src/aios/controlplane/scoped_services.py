"""Services of tenant data, built by Advanced Alchemy's provider on the caller's scope.

:func:`scoped_service` wraps Advanced Alchemy's ``create_service_provider``
(which builds the service on the request's ``db_session`` and closes it after the request) so that
the provider declares ``org_scope`` as an input and binds the session to it
(:func:`~aios.controlplane.db.scoped_session.bind_scope`) before the service sees it. A
controller lists its services as ``{"device_service": scoped_service(DeviceService)}``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from advanced_alchemy.extensions.litestar.providers import create_service_provider
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.tenancy import OrgScope


def scoped_service(service_class: type[SQLAlchemyAsyncRepositoryService[Any, Any]]) -> Provide:
    """The ``Provide`` of ``service_class`` on the request session bound to ``org_scope``."""
    provide = create_service_provider(service_class)

    async def provide_scoped_service(
        db_session: NamedDependency[AsyncSession], org_scope: NamedDependency[OrgScope]
    ) -> AsyncGenerator[Any, None]:
        async for service in provide(bind_scope(db_session, org_scope)):
            yield service

    provide_scoped_service.__name__ = f"provide_{service_class.__name__}"
    return Provide(provide_scoped_service)
