"""Login throttling against a real ``aios serve``: the client address is the socket's unless a
proxy is explicitly trusted, and failures slow down one account+address pair instead of locking
the account for everyone."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import control_plane, register_operator

pytestmark = pytest.mark.slow


def _settings(tmp_path: Path, mqtt_url: str, **extra: str) -> dict[str, str]:
    return {
        "AIOS_DATA_DIR": str(tmp_path / "data"),
        "AIOS_SECRET_KEY": "test-" + uuid.uuid4().hex,
        "AIOS_MQTT_URL": mqtt_url,
        "AIOS_MQTT_TOPIC_PREFIX": "aiostest/" + uuid.uuid4().hex[:10],
        "AIOS_INGEST_ENABLED": "false",
        "AIOS_JOBS_ENABLED": "false",
        **extra,
    }


def _login(base: str, email: str, password: str, forwarded_for: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/auth/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=30,
    )


def test_a_rotating_forwarded_for_does_not_reset_the_address_limit(
    tmp_path: Path, mqtt_url: str, free_port: int
) -> None:
    """No proxy is trusted by default: X-Forwarded-For from 127.0.0.1 is ignored, so 40
    attempts with 40 made-up addresses and 40 emails all count against 127.0.0.1."""
    with control_plane(_settings(tmp_path, mqtt_url), tmp_path / "aios.log", free_port) as base:
        codes = [
            _login(base, f"u{i}@example.com", "wrong password!", f"10.9.{i}.1").status_code
            for i in range(40)
        ]
    assert 429 in codes, codes
    assert set(codes) <= {401, 429}


def test_failures_slow_one_pair_and_never_lock_the_owner_out(
    tmp_path: Path, mqtt_url: str, free_port: int
) -> None:
    settings = _settings(tmp_path, mqtt_url, AIOS_TRUSTED_PROXIES="127.0.0.1")
    with control_plane(settings, tmp_path / "aios.log", free_port) as base:
        _, auth = register_operator(base)
        me = httpx.get(f"{base}/api/v1/auth/me", headers=auth, timeout=30).json()
        victim = me["user"]["email"]
        attacker = "203.0.113.7"
        codes = [_login(base, victim, "guess number 1!", attacker).status_code for _ in range(8)]
        assert codes[:3] == [401, 401, 401], codes
        assert 429 in codes, codes  # the attacker's pair is slowed down...
        retry = _login(base, victim, "correct horse battery staple", attacker)
        assert retry.status_code == 429  # ... even a right guess waits
        assert int(retry.headers["retry-after"]) >= 1
        # ... and the owner, from another address, signs in as usual.
        owner = _login(base, victim, "correct horse battery staple", "198.51.100.9")
        assert owner.status_code == 200, owner.text
