"""The failures a newcomer meets first are one ``error:`` line that says what to do, never a
traceback: the real ``aios`` command, run as a process, against a real SQLite file, a real
PostgreSQL server (a database that does not exist), a port nothing listens on, and a port that
something else holds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def aios(
    args: list[str], env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "aios"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("error: ")
    return errors[0]


@pytest.fixture
def base_env(tmp_path: Path, free_port: int) -> dict[str, str]:
    return {
        "AIOS_DATA_DIR": str(tmp_path),
        "AIOS_SECRET_KEY": "first-hour-test-key-0123456789abcdef",
        "AIOS_MQTT_URL": "embedded",
        "AIOS_EMBEDDED_MQTT_PORT": str(free_port),
        "AIOS_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_before_db_upgrade_says_to_run_it(base_env: dict[str, str]) -> None:
    line = one_error_line(aios(["serve", "--port", str(unused_port())], base_env))
    assert "run `aios db upgrade`" in line


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "--port", "0"]])
def test_an_unreachable_database(base_env: dict[str, str], command: list[str]) -> None:
    env = {
        **base_env,
        "AIOS_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{unused_port()}/aios",
    }
    line = one_error_line(aios(command, env))
    assert "cannot reach PostgreSQL at 127.0.0.1:" in line
    assert "Connection refused" in line


@pytest.mark.postgres
@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "--port", "0"]])
def test_a_database_that_does_not_exist(
    base_env: dict[str, str], pg_admin_url: str, command: list[str]
) -> None:
    server = pg_admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    env = {**base_env, "AIOS_DATABASE_URL": f"{server}/aios_missing_db_for_this_test"}
    line = one_error_line(aios(command, env))
    assert "'aios_missing_db_for_this_test' does not exist" in line
    assert "createdb" in line


def test_the_embedded_broker_port_in_use(base_env: dict[str, str], held_port: int) -> None:
    upgraded = aios(["db", "upgrade"], base_env)
    assert upgraded.returncode == 0, upgraded.stderr
    env = {**base_env, "AIOS_EMBEDDED_MQTT_PORT": str(held_port)}
    line = one_error_line(aios(["serve", "--port", str(unused_port())], env))
    assert f"embedded MQTT broker cannot listen on 127.0.0.1:{held_port}" in line
    assert "AIOS_EMBEDDED_MQTT_PORT" in line


def test_the_http_port_in_use(base_env: dict[str, str], held_port: int) -> None:
    line = one_error_line(aios(["serve", "--port", str(held_port)], base_env))
    assert f"the API cannot listen on 127.0.0.1:{held_port}: address already in use" in line
