"""Enrollment: exchange a one-time token for device credentials (``POST /api/v1/fleet/enroll``).

The request and response bodies are the contract's (:mod:`aios.shared.enrollment`). Unknown
response fields are ignored so that a newer control plane does not break an older agent.
HTTP goes through :mod:`urllib.request` (no extra dependency); its errors are translated to
:class:`EnrollmentError` here. The token and the returned password are never logged.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import msgspec
import psutil

from aios.agent.credentials import BrokerCredentials, DeviceCredentials
from aios.agent.errors import AgentError
from aios.agent.version import AGENT_VERSION
from aios.shared.enrollment import Enrollment, EnrollRequest, HardwareFacts

__all__ = ["EnrollRequest", "EnrollmentError", "HardwareFacts", "enroll", "hardware_facts"]

ENROLL_PATH = "/api/v1/fleet/enroll"
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


class EnrollmentError(AgentError):
    """Enrollment was refused or the control plane could not be reached."""


def accelerator() -> str | None:
    """A GPU or accelerator visible without running any tool: the NVIDIA driver's proc files,
    a Jetson's device-tree model, else the ONNX Runtime execution providers beyond CPU."""
    for info in sorted(NVIDIA_GPUS.glob("*/information")):
        try:
            for line in info.read_text(errors="replace").splitlines():
                if line.startswith("Model:"):
                    return line.split(":", 1)[1].strip()[:128]
        except OSError:
            continue
    try:
        model = DEVICE_TREE_MODEL.read_text(errors="replace").strip("\x00\n ")
    except OSError:
        model = ""
    if "jetson" in model.lower():
        return model[:128]
    try:
        import onnxruntime as ort

        providers = [str(p) for p in ort.get_available_providers()]
    except ImportError:
        return None
    extra = [p.removesuffix("ExecutionProvider") for p in providers if not p.startswith("CPU")]
    return ", ".join(extra)[:128] or None


def hardware_facts() -> HardwareFacts:
    """What the device tells the control plane about itself when it enrolls."""
    return HardwareFacts(
        hostname=(socket.gethostname() or "unknown")[:253],
        arch=platform.machine()[:32],
        os=f"{platform.system()} {platform.release()}".strip()[:128],
        cpu_count=os.cpu_count(),
        memory_mb=int(psutil.virtual_memory().total // 2**20),
        accelerator=accelerator(),
        agent_version=AGENT_VERSION[:64],
    )


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read(4096) or b"{}")
    except (OSError, ValueError):
        return exc.reason if isinstance(exc.reason, str) else ""
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("message")
        if isinstance(detail, str):
            return detail
    return ""


def enroll(
    base_url: str,
    token: str,
    *,
    name: str | None = None,
    facts: HardwareFacts | None = None,
    timeout_s: float = 15.0,
) -> DeviceCredentials:
    """Exchange ``token`` for this device's credentials at the control plane ``base_url``."""
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise EnrollmentError(f"{base_url!r} is not an http(s) URL")
    body = msgspec.json.encode(
        EnrollRequest(token=token, hardware=facts or hardware_facts(), name=name)
    )
    request = urllib.request.Request(
        base + ENROLL_PATH,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            payload = response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        detail = _error_detail(exc)
        if exc.code in (401, 403):
            raise EnrollmentError(
                f"enrollment refused by {base}: the token is invalid, expired or used up"
            ) from None
        raise EnrollmentError(
            f"enrollment failed at {base}: HTTP {exc.code}" + (f": {detail}" if detail else "")
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EnrollmentError(f"cannot reach the control plane at {base}: {reason}") from None
    try:
        answer = msgspec.json.decode(payload, type=Enrollment)
    except msgspec.DecodeError as exc:
        raise EnrollmentError(f"unexpected enrollment response from {base}: {exc}") from None
    return DeviceCredentials(
        device_id=answer.device_id,
        org_id=answer.org_id,
        mqtt=BrokerCredentials(
            url=answer.mqtt.url,
            username=answer.mqtt.username,
            password=answer.mqtt.password,
            topic_prefix=answer.mqtt.topic_prefix,
            protocol=answer.mqtt.protocol,
        ),
        control_plane_url=base,
        enrolled_at=time.time(),
    )
