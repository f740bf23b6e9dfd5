"""Event snapshots: JPEGs uploaded by devices, kept on disk under the data folder.

``PUT /api/v1/events/{event_id}/snapshot`` (the agent's :class:`SnapshotUploader` contract):
the device authenticates with HTTP Basic (its device id and the MQTT password it received at
enrollment, checked against the argon2id hash), the body is at most
:data:`MAX_SNAPSHOT_BYTES` and must be a JPEG (SOI marker ``FF D8 FF`` at the start, EOI
``FF D9`` at the end). The file is ``{data_dir}/snapshots/{org_id}/{device_id}/{event_id}.jpg``
(the event references ``snapshots/{device_id}/{event_id}.jpg``). Identifiers are checked
before they become path segments.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from pathlib import Path

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.accounts.passwords import verify_password
from aios.controlplane.db.models import DeviceCredential
from aios.controlplane.errors import AuthenticationError, InvalidRequestError

MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,63}$")
_JPEG_START = b"\xff\xd8\xff"
_JPEG_END = b"\xff\xd9"


def check_segment(value: str, field: str) -> str:
    """``value`` as a safe path segment (an identifier not starting with a dot)."""
    if not _SEGMENT.match(value):
        raise InvalidRequestError("must be 1-64 letters, digits, '_', '-', '.'", field=field)
    return value


def check_jpeg(body: bytes) -> None:
    if len(body) > MAX_SNAPSHOT_BYTES:
        raise InvalidRequestError(f"larger than {MAX_SNAPSHOT_BYTES} bytes", field="body")
    if not (body.startswith(_JPEG_START) and body.rstrip(b"\x00").endswith(_JPEG_END)):
        raise InvalidRequestError("not a JPEG image", field="body")


async def authenticate_device(session: AsyncSession, authorization: str | None) -> DeviceCredential:
    """The credential of the device named by HTTP Basic ``authorization`` (user: its device id
    or its MQTT user name); raises 401."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise AuthenticationError("device credentials required")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("malformed credentials") from None
    username, _, password = decoded.partition(":")
    # the MQTT user name ({device_id}@{org_id}) or the bare device id (ids are unique)
    column = DeviceCredential.mqtt_username if "@" in username else DeviceCredential.device_id
    credential = await session.scalar(select(DeviceCredential).where(column == username))
    ok = await verify_password(credential.password_hash if credential else None, password)
    if credential is None or not ok:
        raise AuthenticationError("wrong device credentials")
    return credential


class SnapshotStore:
    """JPEG files under ``root`` (``{data_dir}/snapshots``), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, org_id: str, device_id: str, event_id: str) -> Path:
        return (
            self.root
            / check_segment(org_id, "org_id")
            / check_segment(device_id, "device_id")
            / f"{check_segment(event_id, 'event_id')}.jpg"
        )

    async def save(self, org_id: str, device_id: str, event_id: str, body: bytes) -> Path:
        target = self.path(org_id, device_id, event_id)

        def write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(body)
            os.replace(tmp, target)

        await anyio.to_thread.run_sync(write)
        return target

    async def exists(self, org_id: str, device_id: str, event_id: str) -> bool:
        return await anyio.to_thread.run_sync(self.path(org_id, device_id, event_id).is_file)

    async def read(self, org_id: str, device_id: str, event_id: str) -> bytes | None:
        path = self.path(org_id, device_id, event_id)

        def load() -> bytes | None:
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None

        return await anyio.to_thread.run_sync(load)
