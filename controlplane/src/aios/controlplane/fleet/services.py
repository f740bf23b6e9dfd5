"""Fleet services: devices (generic CRUD plus filters and a summary) and enrollment.

Queries run in the request's org-scoped session, so they only ever see the caller's devices;
enrollment runs without a caller (the token is the credential) in an explicit system
scope (``SystemScope``) and takes the organization from the token.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from sqlalchemy import ColumnElement, cast, column, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session
from sqlalchemy.sql.elements import ColumnClause

from aios.controlplane.accounts.bearer import new_secret, token_digest
from aios.controlplane.accounts.passwords import hash_password
from aios.controlplane.brokers.access import device_username
from aios.controlplane.brokers.provisioning import DeviceCredentialsProvisioner
from aios.controlplane.db.models import (
    Device,
    DeviceCredential,
    DeviceState,
    DeviceTombstone,
    EnrollmentToken,
)
from aios.controlplane.db.models.organizations import new_identifier
from aios.controlplane.errors import AuthenticationError
from aios.controlplane.fleet.schemas import FleetSummary, StreamProblem, TagCount
from aios.controlplane.presence.health import stored_seed_status
from aios.shared.enrollment import EnrollRequest
from aios.shared.topics import device_client_id

ENROLLMENT_TOKEN_PREFIX = "aios_enr_"
DEVICE_PASSWORD_PREFIX = "aios_dev_"
_HEALTHY_STREAM_STATES = {"streaming", "connecting"}


class DeviceRepository(SQLAlchemyAsyncRepository[Device]):
    model_type = Device


class DeviceService(SQLAlchemyAsyncRepositoryService[Device, DeviceRepository]):
    """Devices of the session's organization."""

    repository_type = DeviceRepository

    def filters(
        self, *, status: str | None, tag: str | None, search: str | None
    ) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if status is not None:
            clauses.append(Device.status == status)
        if tag is not None:
            clauses.append(has_tag(self.repository.session, tag))
        if search:
            pattern = (
                "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            clauses.append(
                or_(
                    func.lower(Device.name).like(pattern.lower(), escape="\\"),
                    Device.id.like(pattern, escape="\\"),
                )
            )
        return clauses

    async def summary(self) -> FleetSummary:
        rows = (
            await self.repository.session.execute(
                select(Device.id, Device.status, Device.last_heartbeat)
            )
        ).all()
        by_status = Counter(status for _, status, _ in rows)
        by_seed = Counter({"ON": 0, "OFF": 0, "WARNING": 0})
        by_seed.update(stored_seed_status(status, hb) for _, status, hb in rows)
        streams: Counter[str] = Counter()
        problems: list[StreamProblem] = []
        for device_id, status, heartbeat in rows:
            # an offline device's last heartbeat is stale: none of its cameras streams now
            down = status == DeviceState.OFFLINE.value
            for stream in (
                (heartbeat or {}).get("streams", []) if isinstance(heartbeat, dict) else []
            ):
                state = DeviceState.OFFLINE.value if down else str(stream.get("state", "unknown"))
                streams[state] += 1
                if state not in _HEALTHY_STREAM_STATES:
                    problems.append(
                        StreamProblem(
                            device_id=device_id,
                            stream_id=str(stream.get("stream_id", "")),
                            state=state,
                            error="device offline" if down else stream.get("error"),
                        )
                    )
        return FleetSummary(
            total=len(rows),
            by_status=dict(by_status),
            by_seed_status=dict(by_seed),
            streams_by_state=dict(streams),
            unhealthy_streams=problems[:500],
        )

    async def remove(self, device_id: str, provisioner: DeviceCredentialsProvisioner) -> None:
        """Delete the device (its credentials go with it), leave its tombstone (its own
        traffic never re-registers it) and remove it from the broker, which cuts its live
        connection; if the broker refuses, the error propagates and the request's transaction
        rolls back."""
        device = await self.get(device_id)
        await self.delete(device_id)
        self.repository.session.add(
            DeviceTombstone(device_id=device.id, org_id=device.org_id, deleted_at=datetime.now(UTC))
        )
        await self.repository.session.flush()
        await provisioner.revoke_device(device.org_id, device.id)

    async def tag_counts(self) -> list[TagCount]:
        counts: Counter[str] = Counter()
        for tags in (await self.repository.session.scalars(select(Device.tags))).all():
            counts.update(set(tags or []))
        return [TagCount(tag=t, devices=n) for t, n in sorted(counts.items())]


def has_tag(
    session: AsyncSession | async_scoped_session[AsyncSession], tag: str
) -> ColumnElement[bool]:
    """``Device.tags`` (a JSON list) contains ``tag``, on PostgreSQL and on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(Device.tags, JSONB).contains([tag])
    value: ColumnClause[Any] = column("value")
    each = func.json_each(Device.tags).table_valued("value")
    return exists(select(1).select_from(each).where(value == tag))


class EnrollmentTokenRepository(SQLAlchemyAsyncRepository[EnrollmentToken]):
    model_type = EnrollmentToken


class EnrollmentTokenService(
    SQLAlchemyAsyncRepositoryService[EnrollmentToken, EnrollmentTokenRepository]
):
    """Enrollment tokens of the session's organization."""

    repository_type = EnrollmentTokenRepository

    async def issue(
        self,
        *,
        org_id: str,
        name: str,
        max_uses: int | None,
        expires_in_s: int,
        tags: list[str],
        created_by: str,
    ) -> tuple[str, EnrollmentToken]:
        """A new token (returned once, stored as its digest) and its row."""
        token = new_secret(ENROLLMENT_TOKEN_PREFIX)
        row = await self.create(
            EnrollmentToken(
                id=new_identifier(),
                org_id=org_id,
                name=name,
                token_hash=token_digest(token),
                max_uses=max_uses,
                uses=0,
                tags=tags,
                expires_at=datetime.now(UTC) + timedelta(seconds=expires_in_s),
                created_by=created_by,
            )
        )
        return token, row

    async def revoke(self, token_id: str) -> EnrollmentToken:
        row = await self.get(token_id)
        if row.revoked_at is None:
            row = await self.update({"revoked_at": datetime.now(UTC)}, item_id=token_id)
        return row


async def enroll_device(
    session: AsyncSession,
    request: EnrollRequest,
    *,
    provisioner: DeviceCredentialsProvisioner,
    prefix: str,
) -> tuple[Device, DeviceCredential, str]:
    """Consume the token (atomically: concurrent enrollments cannot exceed ``max_uses``),
    create the device with fresh MQTT credentials and provision them on the broker (user
    ``{device_id}@{org_id}``, bound to the client id the agent uses,
    :func:`~aios.shared.topics.device_client_id`). Returns the device, its credential row and
    its password. A broker failure propagates, and the request's transaction rolls back."""
    now = datetime.now(UTC)
    consumed = (
        await session.execute(
            update(EnrollmentToken)
            .where(
                EnrollmentToken.token_hash == token_digest(request.token),
                EnrollmentToken.revoked_at.is_(None),
                EnrollmentToken.expires_at > now,
                or_(
                    EnrollmentToken.max_uses.is_(None),
                    EnrollmentToken.uses < EnrollmentToken.max_uses,
                ),
            )
            .values(uses=EnrollmentToken.uses + 1)
            .returning(EnrollmentToken.id, EnrollmentToken.org_id, EnrollmentToken.tags)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if consumed is None:
        # Same answer for unknown, expired, revoked and used-up tokens.
        raise AuthenticationError("invalid enrollment token")
    token_id, org_id, tags = consumed
    facts = msgspec.structs.asdict(request.hardware)
    hardware: dict[str, Any] = {k: v for k, v in facts.items() if v is not None}
    device = Device(
        id=new_identifier(),
        org_id=org_id,
        name=request.name or request.hardware.hostname,
        status=DeviceState.UNKNOWN.value,
        agent_version=request.hardware.agent_version,
        tags=list(tags or []),
    )
    session.add(device)
    await session.flush()
    password = new_secret(DEVICE_PASSWORD_PREFIX, 24)
    credential = DeviceCredential(
        device_id=device.id,
        org_id=org_id,
        mqtt_username=device_username(org_id, device.id),
        password_hash=await hash_password(password),
        enrollment_token_id=token_id,
        hardware=hardware,
    )
    session.add(credential)
    await session.flush()
    await provisioner.provision_device(
        org_id,
        device.id,
        password,
        prefix=prefix,
        client_id=device_client_id(org_id, device.id),
    )
    return device, credential, password
