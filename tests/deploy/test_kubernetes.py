"""``deploy/kubernetes`` names only what exists: files, commands of the real CLI, variables the
settings read (and that load), Services that select pods and ports that pods declare, the
Secret keys the operator is told to create, and the control plane's routes EMQX calls. The
kustomization is read here directly (``kubectl kustomize`` is also run when it is installed)."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.manifests import KUBERNETES, ROOT, check_command, controlplane_env

IMAGE = "aios-controlplane"
DEPENDENT = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    return data


def documents() -> list[dict[str, Any]]:
    docs = []
    for name in kustomization()["resources"]:
        docs += [d for d in yaml.safe_load_all((KUBERNETES / name).read_text()) if d]
    return docs


def workloads() -> dict[str, dict[str, Any]]:
    kinds = {"Deployment", "StatefulSet", "Job"}
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] in kinds}


def services() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == "Service"}


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    return list(workload["spec"]["template"]["spec"]["containers"])


def config_literals() -> dict[str, str]:
    generator = next(g for g in kustomization()["configMapGenerator"] if g["name"] == "aios-config")
    return dict(line.split("=", 1) for line in generator["literals"])


SECRET_VALUES = {
    "database-url": "postgresql+asyncpg://aios:pw@db.example:5432/aios",
    "secret-key": "k" * 48,
    "mqtt-password": "mqtt-password",
    "emqx-hook-secret": "hook-secret",
}


def environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as Kubernetes builds it (Secrets and fields filled with
    stand-ins), envFrom first, then env in order."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "aios-config"
        env.update(config_literals())
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]
        if "secretKeyRef" in ref:
            assert ref["secretKeyRef"]["name"] == "aios"
            env[item["name"]] = SECRET_VALUES[ref["secretKeyRef"]["key"]]
        else:
            env[item["name"]] = "aios-ingest-7d9f-x2"
    return env


@functools.cache
def routes() -> frozenset[str]:
    """The paths the real control-plane application serves."""
    from aios.controlplane.app import create_app
    from aios.controlplane.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings.from_env({"AIOS_DATA_DIR": tmp, "AIOS_SECRET_KEY": "k" * 32}))
    return frozenset(route.path for route in app.routes)


def aios_containers() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, c) for name, w in workloads().items() for c in containers(w) if c["image"] == IMAGE
    ]


def test_every_manifest_is_listed_and_exists() -> None:
    listed = set(kustomization()["resources"])
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_it() -> None:
    done = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "kind: StatefulSet" in done.stdout


def test_the_roles_are_there() -> None:
    """API replicas without ingest or jobs, `aios ingest` replicas, one jobs runner, the
    migration Job, EMQX; PostgreSQL is not deployed (it is external)."""
    w = workloads()
    roles = {name: environment(containers(w[name])[0]) for name in ("aios-api", "aios-jobs")}
    assert w["aios-api"]["spec"]["replicas"] >= 2
    assert roles["aios-api"]["AIOS_INGEST_ENABLED"] == "false"
    assert roles["aios-api"]["AIOS_JOBS_ENABLED"] == "false"
    assert containers(w["aios-ingest"])[0]["command"] == ["aios", "ingest"]
    assert w["aios-ingest"]["spec"]["replicas"] >= 2
    assert w["aios-jobs"]["spec"]["replicas"] == 1
    assert roles["aios-jobs"]["AIOS_JOBS_ENABLED"] == "true"
    assert containers(w["aios-db-upgrade"])[0]["command"] == ["aios", "db", "upgrade"]
    assert containers(w["emqx"])[0]["image"].startswith("emqx/emqx:5")
    assert not any("postgres" in c["image"] for w in w.values() for c in containers(w))


@pytest.mark.parametrize("name", sorted(workloads()))
def test_commands_parse_with_the_real_cli(name: str) -> None:
    for container in containers(workloads()[name]):
        if container["image"] == IMAGE:
            check_command(container["command"])


def test_variables_are_read_by_the_control_plane_and_load(tmp_path: Path) -> None:
    from aios.controlplane.settings import Settings

    known = controlplane_env(tmp_path)
    for name, container in aios_containers():
        env = environment(container)
        unknown = sorted(k for k in env if k not in known)
        assert not unknown, f"{name}: not read by the control plane: {unknown}"
        settings = Settings.from_env({**env, "AIOS_DATA_DIR": str(tmp_path)})
        assert not settings.embedded_broker, name
        assert not settings.is_sqlite, name
        if container["command"][1] != "db":
            # Every replica's ingest client id is its pod's: a stable, distinct session each.
            assert settings.ingest_enabled is False or "AIOS_MQTT_CLIENT_ID" in env, name


def test_secret_keys_are_the_ones_the_operator_is_told_to_create() -> None:
    used = {
        item["valueFrom"]["secretKeyRef"]["key"]
        for w in workloads().values()
        for c in containers(w)
        for item in c.get("env", [])
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    header = (KUBERNETES / "kustomization.yaml").read_text().split("apiVersion")[0]
    operations = (ROOT / "docs" / "operations.md").read_text()
    for key in used:
        assert f"--from-literal={key}=" in header, key
        assert f"--from-literal={key}=" in operations, key


def test_dependent_variables_are_defined_before_use() -> None:
    for name, workload in workloads().items():
        for container in containers(workload):
            defined: set[str] = set()
            for item in container.get("env", []):
                for ref in DEPENDENT.findall(str(item.get("value", ""))):
                    assert ref in defined, f"{name}: $({ref}) used before it is defined"
                defined.add(item["name"])


def test_services_select_pods_and_their_ports() -> None:
    for name, service in services().items():
        selector = service["spec"]["selector"]
        matched = [
            w
            for w in workloads().values()
            if w["kind"] != "Job"
            and all(
                w["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items()
            )
        ]
        assert matched, f"Service {name} selects no pods"
        port_names = {p["name"] for w in matched for c in containers(w) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"{name}: {port['targetPort']}"


def test_probes_use_declared_ports_and_real_routes() -> None:
    for name, workload in workloads().items():
        for container in containers(workload):
            ports = {p["name"] for p in container.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                http = container.get(probe, {}).get("httpGet")
                if http is None:
                    continue
                assert http["port"] in ports, f"{name}: {probe} port {http['port']}"
                if container["image"] == IMAGE:
                    assert http["path"] in routes(), f"{name}: no route {http['path']}"


def test_urls_point_at_services_ports_and_routes() -> None:
    svc = services()
    urls = [config_literals()["AIOS_MQTT_URL"]]
    emqx = containers(workloads()["emqx"])[0]
    for item in emqx["env"]:
        urls += re.findall(r'url = "([^"]+)"', str(item.get("value", "")))
    assert len(urls) == 3
    from aios.controlplane.brokers.controllers import HOOK_SECRET_HEADER

    header = f'"{HOOK_SECRET_HEADER}" = "$(aios_emqx_hook_secret)"'
    assert str(emqx["env"]).lower().count(header) == 2
    for url in urls:
        parts = urlsplit(url)
        assert parts.hostname in svc, url
        assert parts.port in {p["port"] for p in svc[parts.hostname]["spec"]["ports"]}, url
        if parts.scheme == "http":
            assert parts.path in routes(), url
