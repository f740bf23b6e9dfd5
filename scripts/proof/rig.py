"""The services of a proof run, each private: Mosquitto and PostgreSQL on their own ports and
directories (never the shared ones), and the control plane as real processes (the device side
is :mod:`scripts.proof.device`). Every wait is bounded."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scripts.operator_http import register_owner

BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("AIOS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PREFIX = "proof"


class RigError(RuntimeError):
    """A component did not start or answer in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RigError(f"{what} did not listen on {port} within {timeout} s")


def end(proc: subprocess.Popen[bytes] | None, *, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Mosquitto:
    """A private Mosquitto with the recommended settings (docker/mosquitto/mosquitto.conf):
    persistence, autosave every 30 s, large queues."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            "max_queued_messages 1000000\nmax_queued_bytes 2000000000\n"
            "queue_qos0_messages false\nmax_inflight_messages 1000\n"
            f"persistence true\npersistence_location {workdir}/\nautosave_interval 30\n"
        )
        self.log = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [binary, "-c", str(self.conf)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_port(self.port, 10, "mosquitto")

    def stop(self) -> None:
        end(self.proc)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class Postgres:
    """A private PostgreSQL cluster (initdb in its own temporary directory, its own port).

    PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres``
    system user (``AIOS_PG_USER``) and its commands run through ``runuser``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="aios-proof-pg-"))
        self.data = self.root / "pgdata"
        self.log = self.root / "postgres.log"
        self.socket_dir = self.root / "sock"
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = os.environ.get("AIOS_PG_USER", "postgres")
            self._as = ["runuser", "-u", user, "--"]
            shutil.chown(self.root, user=user)
        self.socket_dir.mkdir()
        if self._as:
            shutil.chown(self.socket_dir, user=self._as[2])

    def _run(self, *args: str | Path) -> None:
        subprocess.run([*self._as, *map(str, args)], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust")
        self.start()

    def _ctl(self, *args: str) -> None:
        opts = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-o", opts, "-w", *args)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def create_database(self, name: str) -> str:
        self._run(
            PG_BIN / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name
        )
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class ControlPlane:
    """``aios serve`` (``split=False``), or ``aios ingest`` beside an API-only ``aios serve``."""

    workdir: Path
    database_url: str
    mqtt_url: str
    split: bool = False
    port: int = field(default_factory=free_port)
    serve: subprocess.Popen[bytes] | None = None
    ingest: subprocess.Popen[bytes] | None = None
    client_id: str = field(default_factory=lambda: "proof-ingest-" + uuid.uuid4().hex[:8])
    secret: str = field(default_factory=lambda: "proof-" + uuid.uuid4().hex)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "AIOS_DATABASE_URL": self.database_url,
            "AIOS_MQTT_URL": self.mqtt_url,
            "AIOS_MQTT_TOPIC_PREFIX": PREFIX,
            "AIOS_MQTT_CLIENT_ID": self.client_id,
            # its own share group: a stopped scenario's persistent session, still a member of
            # a shared group, would take its turn of every message (the agent sends again
            # what it swallowed, but the scenarios would measure that instead)
            "AIOS_MQTT_SHARE_GROUP": self.client_id,
            "AIOS_DATA_DIR": str(self.workdir / "data"),
            "AIOS_SECRET_KEY": self.secret,
            "AIOS_REGISTRATION": "open",  # each scenario registers its own organization
            "AIOS_AUTO_REGISTER_DEVICES": "true",
            "AIOS_HEARTBEAT_INTERVAL_S": "2",
            "AIOS_PRESENCE_DEBOUNCE_MS": "1000",
            "AIOS_LOG_LEVEL": "INFO",
            **extra,
        }

    def upgrade(self) -> None:
        subprocess.run([BIN / "aios", "db", "upgrade"], env=self.env(), check=True, timeout=120)

    def _spawn(self, args: list[str | Path], log: str, env: Mapping[str, str]) -> Any:
        with (self.workdir / log).open("ab") as out:
            return subprocess.Popen(args, env=dict(env), stdout=out, stderr=subprocess.STDOUT)

    def start(self, *, ingest_only: bool = False) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.split or ingest_only:
            self.ingest = self._spawn([BIN / "aios", "ingest"], "ingest.log", self.env())
        if ingest_only:
            return
        env = self.env(AIOS_INGEST_ENABLED="false") if self.split else self.env()
        self.serve = self._spawn(
            [BIN / "aios", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            "serve.log",
            env,
        )
        deadline = time.monotonic() + 240  # a start takes a minute on a loaded 2-core host
        while time.monotonic() < deadline:
            if self.serve.poll() is not None:
                raise RigError(f"aios serve exited with {self.serve.returncode}")
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RigError("aios serve did not answer /health within 240 s")

    def ingest_pid(self) -> int | None:
        proc = self.ingest if self.split else self.serve
        return None if proc is None else proc.pid

    def kill(self) -> None:
        """SIGKILL the process(es) that ingest."""
        for proc in (self.serve, self.ingest):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        self.serve = self.ingest = None

    def stop(self) -> None:
        end(self.serve)
        end(self.ingest)
        self.serve = self.ingest = None


def register(base: str) -> tuple[str, dict[str, str]]:
    """An organization and its owner: its id and the owner's auth header."""
    email = f"proof-{uuid.uuid4().hex[:8]}@example.com"
    return register_owner(
        base, email, "correct horse battery staple", full_name="P", organization="P"
    )
