"""The device credentials file written by ``aios-agent enroll`` and read by ``load_config``.

It lives in the state directory (``credentials.json``), is created with mode ``0600`` before a
byte is written (``os.open`` with the mode, then an atomic rename), and holds the device and
organization ids, the MQTT broker settings with the device's password, and the control plane
URL the device enrolled against. Nothing here logs or prints the password.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

from aios.agent.errors import ConfigError

CREDENTIALS_MODE = 0o600


class BrokerCredentials(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    username: str
    password: str
    topic_prefix: str
    protocol: Literal["5", "3.1.1"] = "5"


class DeviceCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """What enrollment returned, plus where it came from. ``repr`` hides the password."""

    device_id: str
    org_id: str
    mqtt: BrokerCredentials
    control_plane_url: str | None = None
    enrolled_at: float | None = None

    def __repr__(self) -> str:
        return (
            f"DeviceCredentials(device_id={self.device_id!r}, org_id={self.org_id!r}, "
            f"mqtt_url={self.mqtt.url!r}, username={self.mqtt.username!r}, password=***)"
        )


class CredentialsExistError(ConfigError):
    """The credentials file exists and overwriting it was not asked for."""


def save_credentials(path: Path, credentials: DeviceCredentials, *, force: bool = False) -> None:
    """Write ``credentials`` to ``path`` with mode 0600, atomically (a temporary file created
    0600 in the same directory, fsynced, then renamed). Refuses to replace an existing file
    unless ``force``."""
    if path.exists() and not force:
        raise CredentialsExistError(
            f"{path}: this device is already enrolled (use --force to enroll it again)"
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, CREDENTIALS_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(msgspec.json.format(msgspec.json.encode(credentials)))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, CREDENTIALS_MODE)  # in case a umask or ACL widened it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_credentials(path: Path) -> DeviceCredentials | None:
    """The stored credentials, ``None`` when the device has not enrolled. A file readable by
    others is refused: the password must not have leaked to other users."""
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read credentials: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(
            f"{path}: credentials are readable by other users (mode {mode:o}); "
            "run `chmod 600` on it or enroll again"
        )
    try:
        return msgspec.json.decode(data, type=DeviceCredentials)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: not a valid credentials file: {exc}") from None
