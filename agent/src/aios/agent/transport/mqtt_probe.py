"""A one-shot broker reachability probe for ``aios-agent doctor``: TCP (and TLS) connect, an
MQTT 3.1.1 CONNECT with the device's login, and the broker's CONNACK return code.

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
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    tcp_ok: bool
    connack_code: int | None
    rtt_ms: float | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.tcp_ok and self.connack_code == 0

    @property
    def reason(self) -> str:
        if self.error is not None:
            return self.error
        if self.connack_code is None:
            return "no CONNACK"
        return CONNACK_CODES.get(self.connack_code, f"return code {self.connack_code}")


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
    client_id: str, username: str | None, password: str | None, keepalive_s: int = 30
) -> bytes:
    """An MQTT 3.1.1 CONNECT packet (clean session, no will)."""
    flags = 0x02
    payload = _utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += _utf8(username)
        if password is not None:
            flags |= 0x40
            payload += _utf8(password)
    variable = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive_s)
    body = variable + payload
    return bytes([0x10]) + _remaining_length(len(body)) + body


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
) -> ProbeResult:
    """Connect, send CONNECT, read CONNACK, send DISCONNECT. Never raises for network errors."""
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
        client_id = f"aios-doctor-{uuid.uuid4().hex[:12]}"
        sock.sendall(connect_packet(client_id, username, password))
        header = _read_exact(sock, 2)
        if header[0] >> 4 != 2 or header[1] != 2:
            return ProbeResult(True, None, None, f"not an MQTT CONNACK: {header.hex()}")
        _session, code = _read_exact(sock, 2)
        rtt = (time.monotonic() - started) * 1000.0
        if code == 0:
            sock.sendall(b"\xe0\x00")
        return ProbeResult(True, code, round(rtt, 1))
    except (OSError, ssl.SSLError, ConnectionError) as exc:
        return ProbeResult(True, None, None, f"MQTT handshake with {host}:{port} failed: {exc}")
    finally:
        raw.close()
