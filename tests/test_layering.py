"""Dependencies point one way: agent and control plane import shared; shared imports neither;
agent and control plane never import each other; the agent never imports server-side libraries.

Checked statically on every module's import statements (including imports inside functions),
so a lazy import cannot sneak past it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "shared": ROOT / "shared/src/aios/shared",
    "agent": ROOT / "agent/src/aios/agent",
    "controlplane": ROOT / "controlplane/src/aios/controlplane",
}
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "shared": (
        "aios.agent",
        "aios.controlplane",
        "numpy",
        "cv2",
        "onnxruntime",
        "paho",
        "litestar",
    ),
    "agent": (
        "aios.controlplane",
        "litestar",
        "sqlalchemy",
        "advanced_alchemy",
        "alembic",
        "asyncpg",
        "aiosqlite",
        "amqtt",
        "uvicorn",
        "ultralytics",
        "torch",
    ),
    "controlplane": ("aios.agent", "cv2", "onnxruntime"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_point_one_way(package: str) -> None:
    files = sorted(PACKAGES[package].rglob("*.py"))
    assert files, f"no modules found for {package}"
    violations = [
        f"{f.relative_to(ROOT)}:{line} imports {name}"
        for f in files
        for line, name in _imports(f)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[package])
    ]
    assert not violations, "\n".join(violations)


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from aios.controlplane import app\n")
    assert (2, "aios.controlplane") in _imports(bad)


def _closure(
    lock: dict[str, list[dict[str, object]]], root: str, extras: tuple[str, ...]
) -> set[str]:
    """Names of every package that installing ``root[extras]`` pulls in, per uv.lock."""
    by_name: dict[str, list[dict[str, object]]] = {}
    for pkg in lock["package"]:
        by_name.setdefault(str(pkg["name"]), []).append(pkg)
    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(root, extras)]
    while todo:
        name, wanted = todo.pop()
        if name in seen and not wanted:
            continue
        seen.add(name)
        for pkg in by_name.get(name, []):
            deps = list(pkg.get("dependencies", []))  # type: ignore[call-overload]
            optional = pkg.get("optional-dependencies", {})
            assert isinstance(optional, dict)
            for extra in wanted:
                deps += optional.get(extra, [])
            for dep in deps:
                todo.append((str(dep["name"]), tuple(dep.get("extra", ()))))
    return seen


@pytest.mark.parametrize("extra", ["cpu", "gpu", "openvino"])
def test_agent_installs_without_server_side_packages(extra: str) -> None:
    import tomllib

    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    closure = _closure(lock, "aios-agent", (extra,))
    assert "onnxruntime" in closure or f"onnxruntime-{extra}" in closure
    server_side = {
        "litestar",
        "sqlalchemy",
        "advanced-alchemy",
        "asyncpg",
        "aiosqlite",
        "alembic",
        "amqtt",
        "uvicorn",
        "psycopg",
        "psycopg2",
        "psycopg2-binary",
        "torch",
    }
    assert not closure & server_side, sorted(closure & server_side)


def test_shared_depends_on_msgspec_only() -> None:
    import tomllib

    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert _closure(lock, "aios-shared", ()) == {"aios-shared", "msgspec"}


@pytest.mark.parametrize("extra", ["cpu", "gpu", "openvino"])
def test_agent_closure_is_lean(extra: str) -> None:
    """One OpenCV (headless: a second distribution would overwrite the same ``cv2``), and none
    of what the agent does not use (pydantic came in with Typer 0.29; see the footprint bench,
    scripts/bench_footprint.py)."""
    import tomllib

    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    closure = _closure(lock, "aios-agent", (extra,))
    opencv = {n for n in closure if n.startswith("opencv")}
    assert opencv == {"opencv-python-headless"}
    unused = {"pydantic", "pydantic-core", "click", "onnx", "torch", "ultralytics", "pillow"}
    assert not closure & unused, sorted(closure & unused)
