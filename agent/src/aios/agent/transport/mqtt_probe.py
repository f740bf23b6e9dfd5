"""A one-shot broker probe for ``aios-agent doctor``: TCP (and TLS) connect, a CONNECT as the
device, and the broker's CONNACK code.

The CONNECT is the one ``aios-agent run`` sends (:mod:`aios.agent.transport.mqtt`): the same
client id (brokers bind a device's login to it, so another id is "not authorized"), the same
MQTT version, login and session flags (no clean start, and for MQTT 5 the same session
expiry), so the probe neither fails where ``run`` succeeds nor discards the device's queued
messages. A running agent with that client id is disconnected for a moment and reconnects.

Plain sockets from the standard library, so the probe does not depend on the transport's
client or its threads. Socket and TLS errors are translated to :class:`ProbeResult` here.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
import uuid
from dataclasses import dataclass

CONNACK_CODES = {
    0: "accepted",
    1: "unacceptable protocol version (the broker does not speak this MQTT version)",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}
CONNACK_CODES_V5 = {
    0x00: "accepted",
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version (the broker does not speak MQTT 5: set mqtt.protocol)",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8C: "bad authentication method",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x9F: "connection rate exceeded",
}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    tcp_ok: bool
    connack_code: int | None
    rtt_ms: float | None
    error: str | None = None
    protocol: str = "3.1.1"

    @property
    def ok(self) -> bool:
        return self.tcp_ok and self.connack_code == 0

    @property
    def reason(self) -> str:
        if self.error is not None:
            return self.error
        if self.connack_code is None:
            return "no CONNACK"
        # A 3.1.1 broker answers an MQTT 5 CONNECT with its own code 1.
        table = (
            CONNACK_CODES_V5 if self.protocol == "5" and self.connack_code != 1 else CONNACK_CODES
        )
        return table.get(self.connack_code, f"return code {self.connack_code}")


def _utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("!H", len(raw)) + raw


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(
    client_id: str,
    username: str | None,
    password: str | None,
    keepalive_s: int = 30,
    *,
    protocol: str = "3.1.1",
    clean: bool = True,
    session_expiry_s: int = 0,
) -> bytes:
    """A CONNECT packet (no will): MQTT 3.1.1, or MQTT 5 with a Session Expiry Interval."""
    flags = 0x02 if clean else 0x00
    payload = _utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += _utf8(username)
        if password is not None:
            flags |= 0x40
            payload += _utf8(password)
    level = 5 if protocol == "5" else 4
    variable = _utf8("MQTT") + bytes([level, flags]) + struct.pack("!H", keepalive_s)
    if level == 5:
        properties = (
            bytes([0x11]) + struct.pack("!I", session_expiry_s) if session_expiry_s else b""
        )
        variable += _remaining_length(len(properties)) + properties
    body = variable + payload
    return bytes([0x10]) + _remaining_length(len(body)) + body


def _read_remaining_length(sock: socket.socket) -> int:
    value, shift = 0, 0
    for _ in range(4):
        byte = _read_exact(sock, 1)[0]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value
        shift += 7
    raise ConnectionError("malformed remaining length")


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


def probe_broker(
    host: str,
    port: int,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    timeout_s: float = 5.0,
    client_id: str | None = None,
    protocol: str = "3.1.1",
    clean: bool = True,
    session_expiry_s: int = 0,
) -> ProbeResult:
    """Connect, send CONNECT, read CONNACK, send DISCONNECT. Never raises for network errors.
    Without ``client_id`` a random ``aios-doctor-...`` id is used."""
    started = time.monotonic()
    try:
        raw = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        return ProbeResult(False, None, None, f"TCP connect to {host}:{port} failed: {exc}")
    try:
        sock: socket.socket = raw
        if tls is not None:
            sock = tls.wrap_socket(raw, server_hostname=host)
        sock.settimeout(timeout_s)
        packet = connect_packet(
            client_id or f"aios-doctor-{uuid.uuid4().hex[:12]}",
            username,
            password,
            protocol=protocol,
            clean=clean,
            session_expiry_s=session_expiry_s,
        )
        sock.sendall(packet)
        kind = _read_exact(sock, 1)[0]
        length = _read_remaining_length(sock)
        if kind >> 4 != 2 or length < 2:
            return ProbeResult(True, None, None, f"not an MQTT CONNACK: {kind:02x}", protocol)
        _session, code = _read_exact(sock, length)[:2]
        rtt = (time.monotonic() - started) * 1000.0
        if code == 0:
            sock.sendall(b"\xe0\x00")
        return ProbeResult(True, code, round(rtt, 1), protocol=protocol)
    except (OSError, ssl.SSLError, ConnectionError) as exc:
        error = f"MQTT handshake with {host}:{port} failed: {exc}"
        return ProbeResult(True, None, None, error, protocol)
    finally:
        raw.close()
