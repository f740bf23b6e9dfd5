"""The systemd unit ``aios-agent service install`` writes: ``aios-agent run [--config ...]``
restarted always, with the sandboxing options that still let it read cameras and write its
state directory (``ProtectSystem=strict`` + ``ReadWritePaths=``)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "aios-agent.service"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")


def user_unit_dir(home: Path | None = None) -> Path:
    return (home or Path.home()) / ".config" / "systemd" / "user"


@dataclass(frozen=True, slots=True)
class UnitSpec:
    executable: Path
    config: Path | None
    """``None``: the enrolled device runs on its enrollment (no config file)."""
    state_dir: Path
    user_mode: bool = False
    run_as: str | None = None


def _quote(value: str | Path) -> str:
    text = str(value)
    return shlex.quote(text) if any(c.isspace() or c in "'\"\\" for c in text) else text


def render_unit(spec: UnitSpec) -> str:
    """The unit file text. ``user_mode`` leaves out what only system units can use."""
    command = f"{_quote(spec.executable)} run"
    if spec.config is not None:
        command += f" --config {_quote(spec.config)}"
    service = [
        "[Service]",
        "Type=simple",
        f"ExecStart={command}",
        "Restart=always",
        "RestartSec=5",
        "TimeoutStopSec=20",
        "KillSignal=SIGTERM",
        f"Environment=AIOS_AGENT_STATE_DIR={_quote(spec.state_dir)}",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        f"ReadWritePaths={_quote(spec.state_dir)}",
        "PrivateTmp=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectControlGroups=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
    ]
    if not spec.user_mode:
        if spec.run_as:
            service.insert(2, f"User={spec.run_as}")
        # Cameras (V4L2) and GPUs need device nodes: allow the video and render groups.
        service.append("SupplementaryGroups=video render")
    lines = [
        "# Written by `aios-agent service install`.",
        "[Unit]",
        "Description=AIOS edge agent",
        "Wants=network-online.target",
        "After=network-online.target",
        "StartLimitIntervalSec=0",
        "",
        *service,
        "",
        "[Install]",
        f"WantedBy={'default.target' if spec.user_mode else 'multi-user.target'}",
    ]
    return "\n".join(lines) + "\n"
