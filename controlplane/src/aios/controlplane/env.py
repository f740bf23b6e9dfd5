"""Parsers of the control plane's settings that need more than a type: URLs, identifiers, lists
of networks and hosts. Each takes the variable's string and returns the value to convert, or
raises ``ValueError`` with the reason; :mod:`aios.controlplane.settings` names them on the
fields (``Meta(extra={"parse": ...})``) and :mod:`aios.shared.envvars` names the variable.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from aios.shared.topics import is_identifier

EMBEDDED = "embedded"
MQTT_SCHEMES = frozenset({"mqtt", "tcp", "mqtts", "ssl", "tls"})
TLS_SCHEMES = frozenset({"mqtts", "ssl", "tls"})


def database_url(raw: str) -> str:
    if not raw.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
        raise ValueError("must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
    return raw


def mqtt_url(raw: str) -> str:
    if raw != EMBEDDED and urlsplit(raw).scheme not in MQTT_SCHEMES:
        raise ValueError("must be 'embedded' or an mqtt:// URL")
    return raw


def http_url(raw: str) -> str:
    if urlsplit(raw).scheme not in {"http", "https"}:
        raise ValueError("must be an http:// or https:// URL")
    return raw


def identifier(raw: str) -> str:
    if not is_identifier(raw):
        raise ValueError("must be 1-64 characters of letters, digits, '_', '.', '-'")
    return raw


def topic_prefix(raw: str) -> str:
    if not all(is_identifier(p) for p in raw.split("/")):
        raise ValueError("must be '/'-separated identifiers")
    return raw


_HOST = re.compile(
    r"^(?=.{1,253}$)(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def _items(raw: str, *, hosts: bool) -> list[str]:
    items: list[str] = []
    for part in raw.split(","):
        item = part.strip().lower()
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
        raise ValueError(f"must be comma-separated {kinds} (got {part.strip()!r})")
    return items


def networks(raw: str) -> list[str]:
    """Comma-separated IP addresses and CIDR networks, normalized (``10.0.0.7/32``)."""
    return _items(raw, hosts=False)


def networks_and_hosts(raw: str) -> list[str]:
    """:func:`networks`, plus host names (``hooks.example.com``, ``*.corp.example``)."""
    return _items(raw, hosts=True)


_ORIGIN = re.compile(
    r"^https?://[a-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?$"
)


def origins(raw: str) -> list[str]:
    """Comma-separated web origins (``https://dash.example.com``, ``http://host:3000``: scheme,
    host and port, no path; lower-cased)."""
    items: list[str] = []
    for part in raw.split(","):
        item = part.strip().lower().rstrip("/")
        if not item:
            continue
        if not _ORIGIN.match(item):
            raise ValueError(
                f"must be comma-separated origins like https://host:port (got {part.strip()!r})"
            )
        items.append(item)
    return items
