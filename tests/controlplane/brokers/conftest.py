"""A private Mosquitto with the dynamic security plugin, one per test, on a free port."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aios.controlplane.brokers.dynsec import DynsecEndpoint
from aios.controlplane.settings import Secret, Settings
from tests.controlplane.conftest import make_settings

MOSQUITTO = Path("/usr/sbin/mosquitto")
PLUGIN = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")
ADMIN_USER = "dynsec-admin"


@dataclass(frozen=True, slots=True)
class PrivateBroker:
    host: str
    port: int
    admin: DynsecEndpoint
    log: Path


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mosquitto exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        pytest.fail(f"mosquitto did not listen on {port}:\n{log.read_text()}")
    if "Error" in log.read_text():  # e.g. the plugin could not load its state file
        pytest.fail(f"mosquitto started with errors:\n{log.read_text()}")


def dynsec_settings(tmp_path: Path, broker: PrivateBroker, topic_prefix: str) -> Settings:
    """A control plane that provisions devices on ``broker`` (no ingest, no jobs)."""
    return make_settings(
        tmp_path,
        AIOS_MQTT_URL=f"mqtt://127.0.0.1:{broker.port}",
        AIOS_MQTT_TOPIC_PREFIX=topic_prefix,
        AIOS_MQTT_PROVISIONER="dynsec",
        AIOS_MQTT_DYNSEC_ADMIN_USERNAME=ADMIN_USER,
        AIOS_MQTT_DYNSEC_ADMIN_PASSWORD=broker.admin.password.get(),
        AIOS_INGEST_ENABLED="false",
        AIOS_JOBS_ENABLED="false",
    )


@pytest.fixture
def dynsec_broker(tmp_path: Path, free_port: int) -> Iterator[PrivateBroker]:
    ctrl = shutil.which("mosquitto_ctrl")
    if not MOSQUITTO.is_file() or not PLUGIN.is_file() or ctrl is None:
        pytest.fail("mosquitto 2 with the dynamic security plugin is required (apt mosquitto)")
    password = "admin-" + tmp_path.name
    state = tmp_path / "dynamic-security.json"
    subprocess.run(
        [ctrl, "dynsec", "init", str(state), ADMIN_USER, password],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {free_port} 127.0.0.1\n"
        "allow_anonymous false\n"
        "persistence false\n"
        # Run as root, mosquitto would drop to the "mosquitto" user, which cannot read tmp_path.
        f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
        f"plugin {PLUGIN}\n"
        f"plugin_opt_config_file {state}\n"
    )
    log = tmp_path / "mosquitto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(conf), "-v"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_listening(proc, free_port, log)
        yield PrivateBroker(
            host="127.0.0.1",
            port=free_port,
            admin=DynsecEndpoint(
                host="127.0.0.1",
                port=free_port,
                username=ADMIN_USER,
                password=Secret(password),
                timeout_s=5.0,
            ),
            log=log,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
