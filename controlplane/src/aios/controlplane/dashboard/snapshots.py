"""Event snapshots: JPEGs uploaded by devices, kept on disk under the data folder.

``PUT /api/v1/events/{event_id}/snapshot`` (the agent's :class:`SnapshotUploader` contract):
the device authenticates with HTTP Basic (its device id and the MQTT password it received at
enrollment, checked through the :class:`~aios.controlplane.fleet.device_logins.DeviceLoginGuard`:
failures throttled, successes remembered), the body is at most :data:`MAX_SNAPSHOT_BYTES` and
must decode as a JPEG of at most :data:`MAX_SNAPSHOT_PIXELS` (Pillow, in a worker thread:
bytes that merely start and end with JPEG markers are refused), and the event must be one of
the uploading device's (the agent may upload before its event is ingested: until then the
answer is 425, which it retries). The file is
``{data_dir}/snapshots/{org_id}/{device_id}/{event_id}.jpg`` (the event references
``snapshots/{device_id}/{event_id}.jpg``). Identifiers are matched whole (``fullmatch``)
before they become path segments.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import tempfile
from pathlib import Path

import anyio.to_thread
from litestar.exceptions import HTTPException
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aios.controlplane.db.models import DeviceCredential, EventRecord
from aios.controlplane.errors import AuthenticationError, InvalidRequestError
from aios.controlplane.fleet.device_logins import DeviceLoginGuard

MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024
MAX_SNAPSHOT_PIXELS = 8192 * 8192
_SEGMENT = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,63}")
_JPEG_START = b"\xff\xd8\xff"
HTTP_425_TOO_EARLY = 425


def check_segment(value: str, field: str) -> str:
    """``value`` as a safe path segment (an identifier not starting with a dot)."""
    if not _SEGMENT.fullmatch(value):
        raise InvalidRequestError("must be 1-64 letters, digits, '_', '-', '.'", field=field)
    return value


def _decode_jpeg(body: bytes) -> None:
    try:
        with Image.open(io.BytesIO(body), formats=["JPEG"]) as image:
            width, height = image.size
            if width * height > MAX_SNAPSHOT_PIXELS:
                raise InvalidRequestError(f"larger than {MAX_SNAPSHOT_PIXELS} pixels", field="body")
            image.load()  # decodes every scan: truncated or corrupt data raises
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        if isinstance(exc, InvalidRequestError):
            raise
        raise InvalidRequestError("not a decodable JPEG image", field="body") from None


async def check_jpeg(body: bytes) -> None:
    """Refuse ``body`` unless it is a JPEG that decodes (in a worker thread)."""
    if len(body) > MAX_SNAPSHOT_BYTES:
        raise InvalidRequestError(f"larger than {MAX_SNAPSHOT_BYTES} bytes", field="body")
    if not body.startswith(_JPEG_START):
        raise InvalidRequestError("not a JPEG image", field="body")
    await anyio.to_thread.run_sync(_decode_jpeg, body)


async def check_event_of(
    session: AsyncSession, credential: DeviceCredential, event_id: str
) -> None:
    """The event must exist and be the device's; else 425 (it may not be ingested yet: the
    agent retries; another device's event looks the same as a missing one)."""
    found = await session.scalar(
        select(EventRecord.id).where(
            EventRecord.device_id == credential.device_id,
            EventRecord.org_id == credential.org_id,
            EventRecord.id == event_id,
        )
    )
    if found is None:
        raise HTTPException(
            status_code=HTTP_425_TOO_EARLY,
            detail="no such event of this device (yet): retry after the event is sent",
        )


async def authenticate_device(
    session: AsyncSession, authorization: str | None, guard: DeviceLoginGuard, address: str
) -> DeviceCredential:
    """The credential of the device named by HTTP Basic ``authorization`` (user: its device id
    or its MQTT user name); raises 401, or 429 when the guard throttles the caller."""
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
    login = credential.mqtt_username if credential is not None else username
    password_hash = credential.password_hash if credential is not None else None
    ok = await guard.verify(login, password_hash, password, address=address)
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
