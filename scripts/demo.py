"""`make demo`: the control plane on its embedded defaults (SQLite, in-process MQTT broker), an
agent on a sample video, and the operator's console: it prints the console's URL and the demo
login, then the detections arriving through the REST API, live. The demo pipeline detects,
tracks and raises a ``person_present`` event (with a snapshot) for a zone covering the frame, so
the console's Live events and Analytics pages have data within the first minute.

``AIOS_DEMO_SECONDS``: how long the agent runs (default 0: until Ctrl-C).

Model: ``AIOS_AGENT_MODEL_PATH`` if set, else the test weights beside the repository
(``../shared/models/yolov8n-coco.onnx``) when present, else the agent resolves ``yolov8n``
(its cache, then the official download with a sha256 check).
Images for the sample video: ``AIOS_TEST_DATA/images`` (default ``../shared/testdata``).
Work folder (database, logs, agent state): ``AIOS_DEMO_DIR``, default ``data/demo``.

Ctrl-C stops everything cleanly: the control plane and the agent run in their own sessions, so
the terminal's SIGINT reaches only this script, which stops them with SIGTERM and says so.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from scripts.operator_http import register_owner, wait_ok
from scripts.sample_pipeline import FULL_FRAME, person_present_pipeline
from scripts.sample_video import DEFAULT_IMAGES, frames_bar, make_sample_video

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("AIOS_DEMO_DIR", str(ROOT / "data" / "demo"))).resolve()
BIN = Path(sys.executable).parent
SECONDS = float(os.environ.get("AIOS_DEMO_SECONDS", "0"))
DEMO_PASSWORD = "demo password 123"
console = Console(width=max(100, Console().width))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _model() -> str:
    if os.environ.get("AIOS_AGENT_MODEL_PATH"):
        return os.environ["AIOS_AGENT_MODEL_PATH"]
    local = ROOT.parent / "shared" / "models" / "yolov8n-coco.onnx"
    return str(local) if local.is_file() else "yolov8n"


def _enroll(base: str, auth: dict[str, str], state_dir: Path) -> str:
    """Enroll the demo gateway the way an operator would: a single-use token from the API,
    then ``aios-agent enroll`` on the device; returns the device id it was given."""
    issued = httpx.post(
        f"{base}/api/v1/fleet/enrollment-tokens",
        json={"name": "demo gateway", "max_uses": 1, "expires_in_s": 600},
        headers=auth,
        timeout=30,
    )
    issued.raise_for_status()
    subprocess.run(
        [
            BIN / "aios-agent",
            "enroll",
            base,
            "--token",
            issued.json()["token"],
            "--state-dir",
            str(state_dir),
            "--name",
            "gateway-1",
            "--force",
        ],
        check=True,
        start_new_session=True,
    )
    creds = json.loads((state_dir / "credentials.json").read_text())
    return str(creds["device_id"])


def demo_pipeline(video: str, model: str) -> dict[str, Any]:
    """Detections of every object, and a ``person_present`` event (with a snapshot) when a
    person is in the ``frame`` zone (the whole picture), at most every 15 s."""
    return person_present_pipeline(
        "demo",
        video,
        detect={"model": model, "every_n": 3},
        detections={},
        zone=("frame", {"polygon": FULL_FRAME, "classes": ["person"]}),
        rule={"condition": "count", "severity": "warning", "cooldown_s": 15, "snapshot": True},
    )


def main() -> None:
    """Run the demo; Ctrl-C or a failed step ends it with one line, never a traceback."""
    try:
        demo()
    except KeyboardInterrupt:
        console.print("[bold]Stopped[/] (Ctrl-C): the control plane and the agent were shut down.")
        raise SystemExit(130) from None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"`{' '.join(map(str, exc.cmd))}` failed with exit status {exc.returncode}"
        ) from None
    except httpx.HTTPError as exc:
        raise SystemExit(f"the control plane API failed: {exc}; see {WORK}/aios.log") from None


def demo() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    api_port, mqtt_port = _free_port(), _free_port()
    video = WORK / "sample.mp4"
    if not video.exists():
        console.print(f"[bold]Making a sample video[/] from {DEFAULT_IMAGES}")
        with frames_bar(console) as progress:
            make_sample_video(video, seconds=20, fps=15, progress=progress)
    env = {
        **os.environ,
        "AIOS_DATA_DIR": str(WORK / "controlplane"),
        "AIOS_MQTT_URL": "embedded",
        "AIOS_EMBEDDED_MQTT_PORT": str(mqtt_port),
        # Each run signs up a new demo organization in the kept data dir (loopback only).
        "AIOS_REGISTRATION": "open",
    }
    # Own sessions: a Ctrl-C in the terminal reaches this script only, which stops them.
    subprocess.run([BIN / "aios", "db", "upgrade"], env=env, check=True, start_new_session=True)
    log = (WORK / "aios.log").open("wb")
    server = subprocess.Popen(
        [BIN / "aios", "serve", "--port", str(api_port)],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{api_port}"
    agent: subprocess.Popen[bytes] | None = None
    try:
        failure = wait_ok(f"{base}/health", server)
        if failure is not None:
            raise SystemExit(f"the control plane is not up ({failure}); see {WORK}/aios.log")
        console.print(
            f"[bold green]Control plane[/] on {base} (API docs: {base}/docs), "
            f"embedded MQTT broker on 127.0.0.1:{mqtt_port}"
        )
        email = f"demo-{int(time.time())}@example.com"
        _, auth = register_owner(
            base, email, DEMO_PASSWORD, full_name="Demo Operator", organization="Demo"
        )
        console.print(
            f"[bold green]Console[/]  {base}/console/  sign in as [bold]{email}[/] "
            f"with password [bold]{DEMO_PASSWORD}[/]"
        )
        device_id = _enroll(base, auth, WORK / "agent-state")
        # No device or broker settings here: they come from the enrollment's credentials.
        config: dict[str, Any] = {
            "heartbeat_interval_s": 5,
            "state_dir": str(WORK / "agent-state"),
            "pipeline": demo_pipeline(str(video), _model()),
        }
        config_path = WORK / "agent.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        duration = ["--duration", str(SECONDS)] if SECONDS > 0 else []
        agent = subprocess.Popen(
            [BIN / "aios-agent", "run", "--config", str(config_path), *duration],
            stdout=(WORK / "agent.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        console.print(
            f"[bold green]Agent[/] {device_id} on {video.name} "
            f"{f'for {SECONDS:.0f} s' if SECONDS > 0 else 'until Ctrl-C'} (config: {config_path})"
        )
        _follow(base, agent, auth, device_id)
    finally:
        _stop(agent, server)


def _stop(*procs: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM each running process, then wait (a second Ctrl-C meanwhile kills them)."""
    running = [p for p in procs if p is not None and p.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    for proc in running:
        try:
            proc.wait(20)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            proc.kill()
            proc.wait()


def _follow(
    base: str, agent: subprocess.Popen[bytes], auth: dict[str, str], device_id: str
) -> None:
    """Print the newest detections while the agent runs, then the totals the control plane
    stored (the live tables show a page of the newest rows, not everything)."""
    seen: set[tuple[str, str, float]] = set()
    while agent.poll() is None:
        time.sleep(3)
        page = httpx.get(
            f"{base}/api/v1/dashboard/detections", params={"limit": 200}, headers=auth, timeout=10
        )
        page.raise_for_status()
        fresh = []
        for item in page.json()["items"]:
            key = (str(item["ts"]), item["label"], round(item["xyxy"][0], 4))
            if key not in seen:
                seen.add(key)
                fresh.append(item)
        if fresh:
            table = Table(title=f"{len(fresh)} new detections via GET /api/v1/dashboard/detections")
            for col in ("time", "device", "label", "conf", "xyxy (normalized)"):
                table.add_column(col)
            for item in fresh[:8]:
                table.add_row(
                    str(item["ts"])[11:23],
                    item["device_id"][:12],
                    item["label"],
                    f"{item['confidence']:.2f}",
                    " ".join(f"{v:.3f}" for v in item["xyxy"]),
                )
            console.print(table)
    if agent.returncode != 0:
        raise SystemExit(f"the agent exited with {agent.returncode}; see {WORK}/agent.log")
    with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
        stored = stored_counts(http, device_id)
    console.print(f"[bold]Done.[/] {stored.describe()}")
    if not stored.detections:
        raise SystemExit("no detections arrived: see data/demo/agent.log and data/demo/aios.log")


@dataclass(frozen=True, slots=True)
class StoredCounts:
    """What the control plane stored for the demo's device, from its count endpoints."""

    detections: int
    by_label: dict[str, int]
    batches: int
    missing_batches: int

    def describe(self) -> str:
        labels = ", ".join(f"{n} {label}" for label, n in self.by_label.items())
        return (
            f"Stored {self.detections} detections ({labels or 'none'}) in {self.batches} "
            f"batches; {self.missing_batches} batches missing"
        )


def stored_counts(http: httpx.Client, device_id: str) -> StoredCounts:
    """Every detection the device stored (the analytics endpoint's per-label totals over the
    last 24 h, not a page of the newest rows) and its batches' completeness."""
    analytics = http.get(
        "/api/v1/dashboard/analytics",
        params={"device_id": device_id, "group_by": "label", "bucket": "1h", "events": "false"},
    )
    analytics.raise_for_status()
    by_label = {s["key"]: int(s["total"]) for s in analytics.json()["series"]}
    completeness = http.get(f"/api/v1/fleet/{device_id}/completeness")
    completeness.raise_for_status()
    batches = completeness.json()
    return StoredCounts(
        detections=sum(by_label.values()),
        by_label=dict(sorted(by_label.items(), key=lambda kv: -kv[1])),
        batches=int(batches["received"]),
        missing_batches=int(batches["missing_count"]),
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        console.print("[bold]Stopped.[/]")
