"""One MQTT client library on the control plane's side, behind one module.

paho-mqtt is imported by :mod:`aios.controlplane.mqtt.client` only (its errors are translated
there); every other module goes through that module, and no second client library (aiomqtt,
gmqtt, asyncio-mqtt) is imported anywhere. amqtt, the embedded broker, is a broker, not a
client: it stays in :mod:`aios.controlplane.mqtt.embedded` and its access control.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "controlplane/src/aios/controlplane"
CLIENT = ROOT / "mqtt/client.py"
OTHER_CLIENTS = ("aiomqtt", "gmqtt", "asyncio_mqtt", "hbmqtt")


def imported(path: Path) -> set[str]:
    """The top-level packages ``path`` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


MODULES = sorted(ROOT.rglob("*.py"))


def test_the_client_module_is_where_paho_is() -> None:
    assert "paho" in imported(CLIENT)


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_no_other_module_uses_an_mqtt_client_library(path: Path) -> None:
    names = imported(path)
    assert not names & set(OTHER_CLIENTS), f"{path.name} imports a second MQTT client library"
    if path != CLIENT:
        assert "paho" not in names, f"{path.name} imports paho: go through mqtt/client.py"
    if "amqtt" in names:
        assert path.relative_to(ROOT).as_posix() in {"mqtt/embedded.py", "mqtt/embedded_access.py"}
