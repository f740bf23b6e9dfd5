"""Typed values from ``AIOS_*`` environment variables, each failing with a
:class:`~aios.controlplane.errors.SettingsError` that names the variable; and :class:`Secret`,
a string that never shows in a repr or a log line. Used by :mod:`aios.controlplane.settings`.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from aios.controlplane.errors import SettingsError
from aios.shared.topics import is_identifier


class Secret:
    """A secret string that never shows up in a repr or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


def choice(environ: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = environ.get(name) or default
    if name == "AIOS_LOG_LEVEL":
        value = value.upper()
    if value not in allowed:
        raise SettingsError(name, f"must be one of {', '.join(allowed)} (got {value!r})")
    return value


def integer(
    environ: Mapping[str, str],
    name: str,
    default: int,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be an integer (got {raw!r})") from None
    if minimum is not None and value < minimum:
        raise SettingsError(name, f"must be >= {minimum} (got {value})")
    if maximum is not None and value > maximum:
        raise SettingsError(name, f"must be <= {maximum} (got {value})")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def boolean(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(name, f"must be true or false (got {raw!r})")


def identifier(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name) or default
    if not is_identifier(value):
        raise SettingsError(name, "must be 1-64 characters of letters, digits, '_', '.', '-'")
    return value


def secret(environ: Mapping[str, str], name: str) -> Secret | None:
    """``NAME`` or the content of the file named by ``NAME_FILE`` (not both)."""
    value = environ.get(name)
    path = environ.get(f"{name}_FILE")
    if value and path:
        raise SettingsError(name, f"set either {name} or {name}_FILE, not both")
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE", f"cannot read {path}: {exc.strerror}") from None
        if not value:
            raise SettingsError(f"{name}_FILE", f"{path} is empty")
    return Secret(value) if value else None


def file_path(environ: Mapping[str, str], name: str, tls: bool) -> Path | None:
    """An existing file named by ``name`` (a TLS setting: only with an ``mqtts://`` URL)."""
    raw = environ.get(name)
    if not raw:
        return None
    if not tls:
        raise SettingsError(name, "needs an mqtts:// AIOS_MQTT_URL")
    path = Path(raw).expanduser()
    if not path.is_file():
        raise SettingsError(name, f"{path} is not a readable file")
    return path


_HOST = re.compile(
    r"^(?=.{1,253}$)(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def networks(environ: Mapping[str, str], name: str, *, hosts: bool = False) -> tuple[str, ...]:
    """A comma-separated list of IP addresses and CIDR networks (normalized, e.g.
    ``10.0.0.0/8``); with ``hosts``, host names (``hooks.example.com``, ``*.corp.example``)
    too. Empty or unset: an empty tuple."""
    items: list[str] = []
    for raw in environ.get(name, "").split(","):
        item = raw.strip().lower()
        if not item:
            continue
        try:
            items.append(str(ipaddress.ip_network(item, strict=False)))
            continue
        except ValueError:
            pass
        if hosts and _HOST.match(item) and not item.replace(".", "").isdigit():
            items.append(item)
            continue
        kinds = "IP addresses, CIDR networks or host names" if hosts else "IP addresses or CIDRs"
        raise SettingsError(name, f"must be comma-separated {kinds} (got {raw.strip()!r})")
    return tuple(items)


_ORIGIN = re.compile(
    r"^https?://[a-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?$"
)


def origins(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of web origins (``https://dash.example.com``, ``http://host:3000``:
    scheme, host and port, no path; lower-cased). Empty or unset: an empty tuple."""
    items: list[str] = []
    for raw in environ.get(name, "").split(","):
        item = raw.strip().lower().rstrip("/")
        if not item:
            continue
        if not _ORIGIN.match(item):
            raise SettingsError(
                name,
                f"must be comma-separated origins like https://host:port (got {raw.strip()!r})",
            )
        items.append(item)
    return tuple(items)
