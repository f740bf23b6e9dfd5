"""The webhook egress policy, address by address and name by name."""

from __future__ import annotations

import ipaddress

import pytest

from aios.controlplane.notifications.egress import (
    DestinationRefusedError,
    EgressPolicy,
    is_public,
)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("127.9.9.9", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd00:ec2::254", False),  # cloud metadata over IPv6
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:93.184.215.14", True),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ],
)
def test_only_global_unicast_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("allowed", "url", "ok"),
    [
        ((), "https://hooks.example.com/x", True),  # names are checked at delivery
        ((), "http://10.1.2.3/", False),
        (("10.0.0.0/8",), "http://10.1.2.3/", True),
        (("10.0.0.0/8",), "http://192.168.1.1/", False),
        (("hooks.corp.example",), "http://hooks.corp.example/", True),
        (("*.corp.example",), "http://a.corp.example/", True),
        (("*.corp.example",), "http://localhost/", False),
        ((), "http://LOCALHOST./", False),
        ((), "http://foo.localhost/", False),
        ((), "http://user:pw@example.com/", False),
        ((), "ftp://example.com/", False),
        ((), "http://[::1", False),
    ],
)
def test_urls_checked_when_saved(allowed: tuple[str, ...], url: str, ok: bool) -> None:
    policy = EgressPolicy(allowed)
    if ok:
        policy.check_url(url)
    else:
        with pytest.raises(DestinationRefusedError):
            policy.check_url(url)


async def test_pinning_keeps_the_name_for_host_and_sni() -> None:
    async def resolver(host: str, port: int) -> list[ipaddress.IPv4Address]:
        assert (host, port) == ("hooks.example.com", 8443)
        return [ipaddress.IPv4Address("93.184.215.14")]

    target = await EgressPolicy().pin("https://Hooks.Example.com:8443/a?b=1#frag", resolver)
    assert target.url == "https://93.184.215.14:8443/a?b=1"
    assert target.host_header == "hooks.example.com:8443"
    assert target.extensions == {"sni_hostname": "hooks.example.com"}


async def test_one_internal_answer_among_public_ones_refuses() -> None:
    async def resolver(host: str, port: int) -> list[ipaddress.IPv4Address]:
        return [ipaddress.IPv4Address("93.184.215.14"), ipaddress.IPv4Address("10.0.0.1")]

    with pytest.raises(DestinationRefusedError):
        await EgressPolicy().pin("http://mixed.example.com/", resolver)
