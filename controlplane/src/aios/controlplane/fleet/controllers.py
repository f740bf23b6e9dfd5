"""HTTP handlers of the fleet domain: ``/api/v1/fleet``."""

from __future__ import annotations

from typing import Annotated

import msgspec
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.auth import CAN_OPERATE, Caller
from aios.controlplane.brokers.provisioning import DeviceCredentialsProvisioner
from aios.controlplane.db.models import Device, EnrollmentToken
from aios.controlplane.db.models.organizations import new_identifier
from aios.controlplane.db.scoped_session import bind_scope
from aios.controlplane.fleet.schemas import (
    SEED_TO_STORED,
    DeviceCreate,
    DeviceOut,
    DeviceUpdate,
    EnrollmentTokenCreate,
    EnrollmentTokenIssued,
    EnrollmentTokenOut,
    FleetSummary,
    StatusUpdate,
    TagCount,
)
from aios.controlplane.fleet.services import DeviceService, EnrollmentTokenService, enroll_device
from aios.controlplane.pagination import PAGE_DEPENDENCY, to_page
from aios.controlplane.scoped_services import scoped_service
from aios.controlplane.settings import Settings
from aios.controlplane.tenancy import SystemScope
from aios.shared.enrollment import Enrollment, EnrollRequest, MqttCredentials


def _device(device: Device) -> DeviceOut:
    return msgspec.convert(device, DeviceOut, from_attributes=True)


def _token(row: EnrollmentToken) -> EnrollmentTokenOut:
    return msgspec.convert(row, EnrollmentTokenOut, from_attributes=True)


class FleetController(Controller):
    path = "/api/v1/fleet"
    tags = ["fleet"]
    dependencies = {
        **PAGE_DEPENDENCY,
        "device_service": scoped_service(DeviceService),
        "token_service": scoped_service(EnrollmentTokenService),
    }

    @get("/", summary="Devices (filters: status, tag, search)")
    async def list_devices(
        self,
        device_service: NamedDependency[DeviceService],
        page: NamedDependency[LimitOffset],
        status: Annotated[str | None, QueryParameter(max_length=16)] = None,
        tag: Annotated[str | None, QueryParameter(max_length=64)] = None,
        search: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> OffsetPagination[DeviceOut]:
        clauses = device_service.filters(status=status, tag=tag, search=search)
        rows, total = await device_service.get_many_and_count(
            page, *clauses, order_by=[("name", False), ("id", False)]
        )
        return to_page(rows, total, page, DeviceOut)

    @post("/", guards=[CAN_OPERATE], summary="Register a device by hand")
    async def create_device(
        self,
        data: JSONBody[DeviceCreate],
        caller: NamedDependency[Caller],
        device_service: NamedDependency[DeviceService],
    ) -> DeviceOut:
        device = await device_service.create(
            Device(id=new_identifier(), org_id=caller.org_id, name=data.name, tags=data.tags)
        )
        return _device(device)

    @get("/summary", summary="Counts by status and camera health")
    async def summary(self, device_service: NamedDependency[DeviceService]) -> FleetSummary:
        return await device_service.summary()

    @get("/tags", summary="Tags in use, with their device counts")
    async def tags_in_use(self, device_service: NamedDependency[DeviceService]) -> list[TagCount]:
        return await device_service.tag_counts()

    @get("/{device_id:str}")
    async def get_device(
        self, device_id: FromPath[str], device_service: NamedDependency[DeviceService]
    ) -> DeviceOut:
        return _device(await device_service.get(device_id))

    @patch("/{device_id:str}", guards=[CAN_OPERATE])
    async def update_device(
        self,
        device_id: FromPath[str],
        data: JSONBody[DeviceUpdate],
        device_service: NamedDependency[DeviceService],
    ) -> DeviceOut:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        await device_service.get(device_id)
        return _device(await device_service.update(changes, item_id=device_id))

    @put("/{device_id:str}/status", guards=[CAN_OPERATE])
    async def set_status(
        self,
        device_id: FromPath[str],
        data: JSONBody[StatusUpdate],
        device_service: NamedDependency[DeviceService],
    ) -> DeviceOut:
        await device_service.get(device_id)
        status = SEED_TO_STORED.get(data.status, data.status)
        return _device(await device_service.update({"status": status}, item_id=device_id))

    @delete("/{device_id:str}", guards=[CAN_OPERATE], status_code=HTTP_204_NO_CONTENT)
    async def delete_device(
        self,
        device_id: FromPath[str],
        device_service: NamedDependency[DeviceService],
        broker_provisioner: NamedDependency[DeviceCredentialsProvisioner],
    ) -> None:
        await device_service.remove(device_id, broker_provisioner)

    @post("/enrollment-tokens", guards=[CAN_OPERATE], summary="Issue a token (shown once)")
    async def issue_token(
        self,
        data: JSONBody[EnrollmentTokenCreate],
        caller: NamedDependency[Caller],
        token_service: NamedDependency[EnrollmentTokenService],
    ) -> EnrollmentTokenIssued:
        token, row = await token_service.issue(
            org_id=caller.org_id,
            name=data.name,
            max_uses=data.max_uses,
            expires_in_s=data.expires_in_s,
            tags=data.tags,
            created_by=caller.user_id,
        )
        return EnrollmentTokenIssued(token=token, enrollment_token=_token(row))

    @get("/enrollment-tokens", guards=[CAN_OPERATE])
    async def list_tokens(
        self,
        token_service: NamedDependency[EnrollmentTokenService],
        page: NamedDependency[LimitOffset],
    ) -> OffsetPagination[EnrollmentTokenOut]:
        rows, total = await token_service.get_many_and_count(page, order_by=[("created_at", True)])
        return to_page(rows, total, page, EnrollmentTokenOut)

    @delete(
        "/enrollment-tokens/{token_id:str}", guards=[CAN_OPERATE], status_code=HTTP_204_NO_CONTENT
    )
    async def revoke_token(
        self, token_id: FromPath[str], token_service: NamedDependency[EnrollmentTokenService]
    ) -> None:
        await token_service.revoke(token_id)

    @post("/enroll", exclude_from_auth=True, summary="A device exchanges a token for credentials")
    async def enroll(
        self, data: JSONBody[EnrollRequest], settings: NamedDependency[Settings],
        db_session: NamedDependency[AsyncSession], system_scope: NamedDependency[SystemScope],
        broker_provisioner: NamedDependency[DeviceCredentialsProvisioner],
    ) -> Enrollment:  # fmt: skip
        device, credential, password = await enroll_device(
            bind_scope(db_session, system_scope),
            data,
            provisioner=broker_provisioner,
            prefix=settings.mqtt_topic_prefix,
        )
        return Enrollment(
            device_id=device.id,
            org_id=device.org_id,
            mqtt=MqttCredentials(
                url=settings.device_broker_url(),
                username=credential.mqtt_username,
                password=password,
                topic_prefix=settings.mqtt_topic_prefix,
                protocol=settings.device_broker_protocol(),
            ),
        )


ROUTES = [FleetController]
