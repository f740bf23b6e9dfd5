"""Each side reads its environment in one place: the modules below, and no other, touch
``os.environ`` (or ``os.getenv``). Everything else receives the settings it needs, so a setting
is never read twice, or at import time, or differently in two places."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "shared/src", ROOT / "agent/src", ROOT / "controlplane/src"]
ALLOWED = {
    # The agent's one read (each command calls from_process once and passes it down).
    "agent/src/aios/agent/environment.py",
    # Writes FFmpeg's capture options for OpenCV, which reads them only from the environment.
    "agent/src/aios/agent/sources/rtsp.py",
    # The control plane's composition root: Settings.from_env(os.environ), once.
    "controlplane/src/aios/controlplane/cli.py",
    # The operator CLI's login file follows XDG_CONFIG_HOME / HOME: not a setting.
    "controlplane/src/aios/controlplane/operator/login_store.py",
}


def _reads_environment(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines: list[int] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in {"environ", "environb", "getenv", "getenvb", "putenv"}
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in {"environ", "getenv", "environb"} for a in node.names)
        ):
            lines.append(node.lineno)
    return lines


def _modules() -> list[Path]:
    return sorted(p for src in SOURCES for p in src.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_settings_entry_points_read_the_environment(path: Path) -> None:
    name = str(path.relative_to(ROOT))
    if name in ALLOWED:
        return
    assert _reads_environment(path) == [], f"{name} reads the environment: take settings instead"


def test_the_allow_list_is_current() -> None:
    for name in ALLOWED:
        assert _reads_environment(ROOT / name), f"{name} no longer reads the environment"
