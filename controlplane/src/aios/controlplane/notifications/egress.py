"""Where webhooks may be sent: public addresses only, unless the operator allows more.

A webhook URL is chosen by a tenant's admin, and the control plane sends requests to it from
inside its own network: without a policy, a webhook to ``127.0.0.1:5432``, to the cloud
metadata service (``169.254.169.254``) or to the control plane's own port is a request forgery
(SSRF), and a delivery log of "connection refused" versus "timed out" is a port scanner.

:class:`EgressPolicy` refuses every address that is not globally routable: loopback, private
(RFC 1918, unique local IPv6), link-local (where metadata services live), carrier-grade NAT,
multicast, reserved and unspecified addresses, and IPv4-mapped IPv6 forms of them. The
operator's allow-list (``AIOS_WEBHOOK_ALLOWED_TARGETS``: IPs, CIDR networks, host names or
``*.suffix`` patterns) admits on-premises receivers.

The check happens twice: when a webhook is saved (an address literal or ``localhost`` is
refused at once, with a 400 naming ``url``), and authoritatively at delivery time, against
every address the name resolves to then. The request is then sent to the checked address
itself (pinned: the URL's host is replaced by the address, the name goes in ``Host`` and in TLS
SNI, and the certificate is verified against the name), so that a second DNS answer (DNS
rebinding) cannot move the connection. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from aios.controlplane.errors import ControlPlaneError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class DestinationRefusedError(ControlPlaneError):
    """A webhook destination is not allowed by the egress policy."""


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable unicast (the only kind allowed by default)."""
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in (address.ipv4_mapped, address.sixtofour):
            if embedded is not None:
                return is_public(embedded)
        if address.teredo is not None:
            return False
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_private
        and not address.is_link_local
        and not address.is_loopback
        and not address.is_unspecified
    )


async def resolve(host: str, port: int) -> Sequence[IPAddress]:
    """Every address ``host`` resolves to now (the system resolver)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """A request target pinned to a checked address: send to ``url`` with these headers."""

    url: str
    host_header: str
    address: IPAddress
    extensions: dict[str, str] = field(default_factory=dict)


def _parts(url: str) -> tuple[SplitResult, str, int]:
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. an unbalanced "[" in the authority
        raise DestinationRefusedError("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise DestinationRefusedError("only http:// and https:// URLs with a host")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefusedError("credentials in the URL are not supported")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefusedError("invalid port") from None
    return parts, hostname.rstrip(".").lower(), port


class EgressPolicy:
    """Which webhook destinations are allowed (see the module docstring)."""

    def __init__(self, allowed: Sequence[str] = ()) -> None:
        self.networks: list[IPNetwork] = []
        self.hosts: list[str] = []
        for item in allowed:
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.hosts.append(item.lower().rstrip("."))

    def allows_address(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return is_public(address) or any(address in net for net in self.networks)

    def allows_host(self, host: str) -> bool:
        """Whether ``host`` is on the allow-list by name (then any address it resolves to is
        accepted: the operator vouches for that name)."""
        for allowed in self.hosts:
            if allowed.startswith("*."):
                if host.endswith(allowed[1:]) and host != allowed[2:]:
                    return True
            elif host == allowed:
                return True
        return False

    def check_url(self, url: str) -> None:
        """The check made when a webhook is saved: refuses a URL whose host is an address
        literal or a local name that the policy refuses (names are checked at delivery)."""
        _, host, _ = _parts(url)
        if self.allows_host(host):
            return
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if host in _LOCAL_NAMES or host.endswith(".localhost"):
                raise DestinationRefusedError("local destinations are not allowed") from None
            return
        if not self.allows_address(address):
            raise DestinationRefusedError("internal addresses are not allowed")

    async def pin(self, url: str, resolver: Resolver = resolve) -> PinnedTarget:
        """Resolve ``url``'s host, check every address, and pin the request to the first."""
        parts, host, port = _parts(url)
        try:
            addresses: Sequence[IPAddress] = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = await resolver(host, port)
        if not addresses:
            raise OSError(f"{host} has no address")
        if not self.allows_host(host) and not all(self.allows_address(a) for a in addresses):
            raise DestinationRefusedError("the destination resolves to an internal address")
        address = addresses[0]
        literal = f"[{address}]" if address.version == 6 else str(address)
        default_port = 443 if parts.scheme == "https" else 80
        netloc = literal if parts.port is None else f"{literal}:{port}"
        target = parts._replace(netloc=netloc, fragment="").geturl()
        host_header = host if port == default_port else f"{host}:{port}"
        if parts.hostname and ":" in parts.hostname and port != default_port:
            host_header = f"[{host}]:{port}"
        elif parts.hostname and ":" in parts.hostname:
            host_header = f"[{host}]"
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        return PinnedTarget(
            url=target, host_header=host_header, address=address, extensions=extensions
        )
