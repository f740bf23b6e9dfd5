"""``docker/`` works as committed: every file, service, port, environment variable and command
it names exists in the repository and the code. Docker does not run here; these checks read the
files and hand what they name to the real settings loaders and the real CLIs."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.manifests import (
    DOCKER,
    ROOT,
    agent_env,
    check_command,
    command_option,
    controlplane_env,
    dockerfile_instructions,
    mosquitto_listeners,
)

COMPOSE = DOCKER / "compose.yaml"
VARIABLE = re.compile(r"^\$\{(?P<name>[A-Z_]+):-(?P<default>[^}]+)\}$")
GENERATED = {"../data/samples": "sample-video"}
"""Bind-mount sources that are not in the tree, and the Makefile target that makes each."""
IMAGE_PORTS = {
    "timescale/timescaledb": {5432},
    "postgres": {5432},
    "prom/prometheus": {9090},
    "grafana/grafana": {3000},
}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def dockerfile(service: dict[str, Any]) -> Path | None:
    build = service.get("build")
    if build is None:
        return None
    return (DOCKER / str(build["context"]) / str(build["dockerfile"])).resolve()


def side(service: dict[str, Any]) -> str | None:
    path = dockerfile(service)
    return None if path is None else path.stem.split(".")[0]


def argv(service: dict[str, Any]) -> list[str]:
    """What the container runs: the Dockerfile's ENTRYPOINT + CMD, or compose's override."""
    path = dockerfile(service)
    assert path is not None
    entrypoint: list[str] = []
    cmd: list[str] = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        elif keyword == "CMD":
            cmd = json.loads(rest)
    if "command" in service:
        cmd = service["command"]
    return entrypoint + cmd


def listening_ports(name: str, service: dict[str, Any]) -> set[int]:
    image = service.get("image", "")
    for prefix, ports in IMAGE_PORTS.items():
        if image.startswith(prefix):
            return ports
    if image.startswith("eclipse-mosquitto"):
        return mosquitto_listeners(DOCKER / "mosquitto" / "mosquitto.conf")
    port = command_option(argv(service), "--port")
    return {int(port)} if port else set()


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for volume in service.get("volumes", []):
        end = volume.index("}") + 1 if volume.startswith("${") else 0
        target = volume[end:].split(":")[1]
        out.append((volume[:end] or volume.split(":")[0], target))
    return out


def test_every_bind_mount_and_build_file_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    header = COMPOSE.read_text().split("services:")[0]
    for name, service in services().items():
        path = dockerfile(service)
        if path is not None:
            assert path.is_file(), f"{name}: no {path}"
        for source, _ in mounts(service):
            if not source.startswith((".", "/", "$")):
                assert source in compose()["volumes"], f"{name}: volume {source} not declared"
                continue
            variable = VARIABLE.match(source)
            if variable is not None:
                # An operator-provided folder: the header must say what to set.
                assert variable["name"] in header, f"{name}: {variable['name']} undocumented"
                continue
            if source in GENERATED:
                target = GENERATED[source]
                assert re.search(rf"^{target}:", makefile, re.M), f"no `make {target}`"
                assert f"make {target}" in header
                continue
            assert (DOCKER / source).exists(), f"{name}: {source} does not exist"
    assert "secrets" not in compose() or all(
        (DOCKER / s["file"]).is_file() for s in compose()["secrets"].values()
    )


def test_every_declared_volume_is_used() -> None:
    used = {s for svc in services().values() for s, _ in mounts(svc)}
    assert set(compose()["volumes"]) <= used


def test_dependencies_name_services() -> None:
    for name, service in services().items():
        depends = service.get("depends_on", [])
        for other in depends if isinstance(depends, list) else depends.keys():
            assert other in services(), f"{name} depends on unknown {other}"


def test_published_ports_are_ones_the_service_listens_on() -> None:
    for name, service in services().items():
        for mapping in service.get("ports", []):
            container = int(str(mapping).split(":")[-1])
            assert container in listening_ports(name, service), f"{name}: {mapping}"


@pytest.mark.parametrize("name", ["controlplane", "agent"])
def test_commands_parse_with_the_real_cli(name: str) -> None:
    check_command(argv(services()[name]))


def test_healthcheck_and_expose_match_the_served_port() -> None:
    service = services()["controlplane"]
    path = dockerfile(service)
    assert path is not None
    port = listening_ports("controlplane", service)
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "EXPOSE":
            assert {int(rest)} == port
        if keyword == "HEALTHCHECK":
            assert re.search(rf"127\.0\.0\.1:{port.pop()}/health", rest)


@pytest.mark.parametrize("path", sorted(DOCKER.glob("*.Dockerfile")), ids=lambda p: p.name)
def test_dockerfiles_copy_what_exists_and_install_their_command(path: Path) -> None:
    script = {"agent": "aios-agent", "controlplane": "aios"}[path.stem.split(".")[0]]
    package = {"aios-agent": "aios-agent", "aios": "aios-controlplane"}[script]
    syncs = []
    env: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "COPY" and "--from=" not in rest:
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"{path.name}: COPY {source}"
        if keyword == "RUN" and rest.startswith("uv sync"):
            syncs.append(rest)
        if keyword == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
        if keyword == "COPY" and "--from=build" in rest:
            source, target = rest.split()[-2:]
            # The venv's scripts name their interpreter by absolute path: it cannot move.
            assert source == target == env.get("UV_PROJECT_ENVIRONMENT"), rest
    assert syncs, f"{path.name}: no uv sync"
    last = syncs[-1]
    assert f"--package {package}" in last
    assert "--no-install-project" not in last, f"{path.name}: {script} would not be installed"
    assert f"{env['UV_PROJECT_ENVIRONMENT']}/bin" in env["PATH"]


def test_environment_variables_are_ones_the_code_reads(tmp_path: Path) -> None:
    known = {"controlplane": controlplane_env(tmp_path), "agent": agent_env(tmp_path)}
    checked = 0
    for name, service in services().items():
        which = side(service)
        env = service.get("environment", {})
        if which is None:
            assert not any(k.startswith("AIOS_") for k in env), name
            continue
        for key in env:
            assert key in known[which], f"{name}: {key} is not read by the {which}"
            checked += 1
        for keyword, rest in dockerfile_instructions(dockerfile(service)):  # type: ignore[arg-type]
            if keyword == "ENV":
                for key in re.findall(r"(AIOS_\w+)=", rest):
                    assert key in known[which], f"{name}'s Dockerfile: {key}"
                    checked += 1
    assert checked >= 5


def test_urls_point_at_services_and_their_ports() -> None:
    all_services = services()
    checked = 0
    for name, service in all_services.items():
        for key, value in service.get("environment", {}).items():
            if not key.endswith("_URL"):
                continue
            parts = urlsplit(str(value))
            if parts.hostname is None or parts.hostname == "localhost":
                continue
            assert parts.hostname in all_services, f"{name}: {key} names {parts.hostname}"
            target = all_services[parts.hostname]
            default = {"mqtt": 1883, "http": 80, "postgresql+asyncpg": 5432}[parts.scheme]
            ports = listening_ports(parts.hostname, target)
            assert (parts.port or default) in ports, f"{name}: {key}={value}"
            checked += 1
    assert checked >= 4


def test_settings_load_from_the_compose_environment(tmp_path: Path) -> None:
    """The control plane's and the agent's settings accept what compose gives them, and every
    path the agent's config names lies on something mounted into its container."""
    from aios.agent.config import load_config
    from aios.controlplane.settings import Settings

    cp = services()["controlplane"]
    settings = Settings.from_env({**cp["environment"], "AIOS_DATA_DIR": str(tmp_path)})
    assert not settings.embedded_broker

    agent = services()["agent"]
    targets = {target: source for source, target in mounts(agent)}
    config_source = next(s for s, t in mounts(agent) if t == "/etc/aios/agent.yaml")
    image_env = dict(
        re.findall(
            r"(AIOS_\w+)=(\S+)",
            " ".join(r for k, r in dockerfile_instructions(dockerfile(agent)) if k == "ENV"),  # type: ignore[arg-type]
        )
    )
    config = load_config(DOCKER / config_source, environ={**image_env, **agent["environment"]})
    assert config.mqtt.host == "mqtt"
    assert config.pipeline is not None
    paths = [config.state_dir, config.spool_path]
    for node in config.pipeline.nodes:
        params = getattr(node, "params", None)
        for field in ("uri", "model"):
            value = getattr(params, field, None)
            if isinstance(value, str) and value.startswith("/"):
                paths.append(Path(value))
    assert len(paths) >= 4

    def mounted(path: Path) -> bool:
        return any(PurePosixPath(path).is_relative_to(t) for t in targets)

    for path in paths:
        assert mounted(path), f"{path} is on nothing mounted into the agent container"
    # The sample video and the model are the files `make sample-video` / AIOS_MODELS_DIR give.
    makefile = (ROOT / "Makefile").read_text()
    assert "data/samples/sample.mp4" in makefile
    assert any(str(p).startswith("/samples/sample.mp4") for p in paths)
    assert any(str(p).startswith("/models/yolov8n-coco.onnx") for p in paths)


@pytest.mark.parametrize(
    "bad",
    [
        ["aios", "nonsense"],
        ["aios", "serve", "--bogus"],
        ["aios", "db"],
        ["aios-agent", "run", "--config", "x", "--nope"],
        ["sh", "-c", "aios db upgrade && exec aios serve --listen 0.0.0.0"],
    ],
)
def test_the_command_check_rejects_what_the_cli_lacks(bad: list[str]) -> None:
    with pytest.raises((Exception, SystemExit)):  # click's error types vary by version
        check_command(bad)


def test_the_recorded_variables_include_cli_options(tmp_path: Path) -> None:
    assert "AIOS_AGENT_ENROLL_TOKEN" in agent_env(tmp_path)
    assert {"AIOS_SECRET_KEY_FILE", "AIOS_MQTT_URL"} <= controlplane_env(tmp_path)
