"""The checks ``aios-agent doctor`` runs: model, providers, cameras, broker, clock, disk.

Each check returns :class:`CheckResult` (``pass`` / ``warn`` / ``fail`` with a one-line
detail) and never raises for an expected failure; probing hardware and the network happens
here, never in config validation. Camera opens run in a thread with a timeout.

The checks test what ``aios-agent run`` would do with the same config: the pipeline it would
start (the last good one applied from the control plane, else the config's:
:func:`pipeline_to_run`) and the broker login it would make (its client id, MQTT version and
session flags: :func:`check_broker`).
"""

from __future__ import annotations

import email.utils
import shutil
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aios.agent.config import AgentConfig, MqttSettings
from aios.agent.errors import AgentError
from aios.agent.pipeline.last_good import LastGoodStore
from aios.agent.sources.registry import CameraOptions, CameraRegistry, default_cameras
from aios.agent.transport.mqtt import SESSION_EXPIRY_S
from aios.agent.transport.mqtt_probe import probe_broker
from aios.shared.pipeline import DetectNode, PipelineSpec, SourceNode
from aios.shared.topics import device_client_id

Level = Literal["pass", "warn", "fail"]
SKEW_WARN_S = 2.0
SKEW_FAIL_S = 30.0
DISK_WARN_BYTES = 1 << 30
DISK_FAIL_BYTES = 100 << 20


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    level: Level
    detail: str


def pipeline_to_run(config: AgentConfig) -> tuple[PipelineSpec | None, str]:
    """The pipeline ``aios-agent run`` starts with this config, and where it comes from: the
    last good one applied from the control plane, else the config's own."""
    saved = LastGoodStore.in_state_dir(config.state_dir).load()
    if saved is not None:
        return saved.spec, f"the last good pipeline ({saved.pipeline_id} v{saved.version})"
    return config.pipeline, "the config's pipeline"


def check_model(config: AgentConfig) -> CheckResult:
    """The model resolves to a file and ONNX Runtime loads it as a YOLOv8 detector."""
    from aios.agent.inference import Detector

    pipeline, _ = pipeline_to_run(config)
    nodes = pipeline.nodes if pipeline else []
    detects = [n for n in nodes if isinstance(n, DetectNode)]
    try:
        if detects:
            path = _model_for(detects[0], config)
        elif config.model_path is not None:
            path = config.model_path
        else:
            return CheckResult("model", "warn", "no model_path and no detect node to run")
        detector = Detector.load(path, provider="cpu")
    except AgentError as exc:
        return CheckResult("model", "fail", str(exc))
    return CheckResult("model", "pass", f"{path.name}: {len(detector.names)} classes, loads")


def _model_for(node: DetectNode, config: AgentConfig) -> Path:
    """The detect node's model, resolved as ``run`` would (without downloading)."""
    from aios.agent.inference.model_store import pipeline_model

    return pipeline_model(
        node.params.model,
        base_dir=config.source.parent if config.source else Path.cwd(),
        model_path=config.model_path,
        override=config.model_override,
        download=False,
        env=config.environment,
    )


def check_providers() -> CheckResult:
    try:
        from aios.agent.inference.session import available_providers

        providers = available_providers()
    except ImportError as exc:
        return CheckResult("providers", "fail", f"ONNX Runtime is not installed: {exc}")
    level: Level = "pass" if providers else "fail"
    return CheckResult("providers", level, ", ".join(providers) or "none")


def check_cameras(
    config: AgentConfig, cameras: CameraRegistry | None = None, timeout_s: float = 10.0
) -> list[CheckResult]:
    """Open (and read one frame from) each source of the pipeline ``run`` would start, each
    within ``timeout_s``."""
    pipeline, origin = pipeline_to_run(config)
    if pipeline is None:
        return [
            CheckResult(
                "cameras", "warn", "no pipeline yet (none in the config, none applied remotely)"
            )
        ]
    sources = [n for n in pipeline.nodes if isinstance(n, SourceNode)]
    if not sources:
        return [CheckResult("cameras", "warn", f"no source node in {origin}")]
    registry = cameras or default_cameras()
    base = config.source.parent if config.source else Path.cwd()
    return [_open_camera(n, registry, CameraOptions(base_dir=base), timeout_s) for n in sources]


def _open_camera(
    node: SourceNode, registry: CameraRegistry, options: CameraOptions, timeout_s: float
) -> CheckResult:
    name = f"camera {node.id}"
    outcome: list[CheckResult] = []

    def attempt() -> None:
        try:
            camera = registry.create(node.params, options)
            camera.open()
            try:
                image = camera.read()
            finally:
                camera.close()
        except AgentError as exc:
            outcome.append(CheckResult(name, "fail", str(exc)))
            return
        if image is None:
            outcome.append(CheckResult(name, "warn", "opened but gave no frame"))
        else:
            h, w = image.shape[:2]
            outcome.append(CheckResult(name, "pass", f"{node.params.kind}: {w}x{h}"))

    worker = threading.Thread(target=attempt, name=f"doctor-{node.id}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive() or not outcome:
        return CheckResult(name, "fail", f"did not open within {timeout_s:g} s")
    return outcome[0]


def _tls_context(mqtt: MqttSettings) -> ssl.SSLContext | None:
    if not mqtt.uses_tls:
        return None
    tls = mqtt.tls
    context = ssl.create_default_context(cafile=tls.ca if tls else None)
    if tls and tls.cert:
        context.load_cert_chain(tls.cert, tls.key)
    if tls and tls.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def check_broker(
    mqtt: MqttSettings, timeout_s: float = 5.0, *, client_id: str | None = None
) -> CheckResult:
    """Log in as ``aios-agent run`` does: ``client_id`` (the device's), the configured MQTT
    version, no clean start and, for MQTT 5, the transport's session expiry."""
    try:
        context = _tls_context(mqtt)
    except (OSError, ssl.SSLError) as exc:
        return CheckResult("broker", "fail", f"TLS settings unusable: {exc}")
    result = probe_broker(
        mqtt.host,
        mqtt.port,
        username=mqtt.username,
        password=mqtt.password,
        tls=context,
        timeout_s=timeout_s,
        client_id=client_id,
        protocol=mqtt.protocol,
        clean=client_id is None,
        session_expiry_s=SESSION_EXPIRY_S if client_id is not None else 0,
    )
    where = f"{mqtt.host}:{mqtt.port} (MQTT {mqtt.protocol}"
    where += f", as {mqtt.username})" if mqtt.username else ")"
    if result.ok:
        return CheckResult("broker", "pass", f"{where}: CONNACK accepted in {result.rtt_ms} ms")
    return CheckResult("broker", "fail", f"{where}: {result.reason}")


def http_date(url: str, timeout_s: float = 5.0) -> float | None:
    """The ``Date`` header (epoch seconds) of any answer from ``url``; ``None`` if none."""
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            header = response.headers.get("Date")
    except urllib.error.HTTPError as exc:
        header = exc.headers.get("Date")
    except (urllib.error.URLError, OSError):
        return None
    if not header:
        return None
    try:
        return email.utils.parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError):
        return None


def check_clock(control_plane_url: str | None, now: Callable[[], float] = time.time) -> CheckResult:
    """Skew against the control plane's HTTP ``Date`` (1 s resolution, so 2 s is the floor)."""
    if control_plane_url is None:
        return CheckResult("clock", "warn", "no control plane URL configured: skew not checked")
    before = now()
    remote = http_date(control_plane_url.rstrip("/") + "/health")
    after = now()
    if remote is None:
        return CheckResult("clock", "warn", f"no Date header from {control_plane_url}")
    skew = (before + after) / 2 - remote
    level: Level = "pass"
    if abs(skew) >= SKEW_FAIL_S:
        level = "fail"
    elif abs(skew) >= SKEW_WARN_S:
        level = "warn"
    return CheckResult("clock", level, f"{skew:+.1f} s vs {control_plane_url}")


def check_disk(state_dir: Path) -> CheckResult:
    probe = state_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    detail = f"{free / 2**30:.1f} GiB free at {probe}"
    if free < DISK_FAIL_BYTES:
        return CheckResult("disk", "fail", detail)
    if free < DISK_WARN_BYTES:
        return CheckResult("disk", "warn", detail)
    return CheckResult("disk", "pass", detail)


def run_checks(
    config: AgentConfig, *, camera_timeout_s: float = 10.0, broker_timeout_s: float = 5.0
) -> list[CheckResult]:
    """Every check, in the order ``doctor`` prints them."""
    results = [check_providers(), check_model(config)]
    results += check_cameras(config, timeout_s=camera_timeout_s)
    client_id = device_client_id(config.device.org_id, config.device.device_id)
    results.append(check_broker(config.mqtt, timeout_s=broker_timeout_s, client_id=client_id))
    results.append(check_clock(config.control_plane_url))
    results.append(check_disk(config.state_dir))
    return results
