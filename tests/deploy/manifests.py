"""What the deployment files may name, taken from the code rather than written down twice.

- :func:`controlplane_env` / :func:`agent_env`: the environment variables each side actually
  reads, recorded by running the real settings loaders on a recording mapping (plus the CLI
  options' ``envvar`` and the agent's model-store variables);
- :func:`check_command`: a command line (``aios serve --port 8000``) parsed by the real CLI;
- :func:`mosquitto_listeners`: the ports a Mosquitto config listens on.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import typer

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
KUBERNETES = ROOT / "deploy" / "kubernetes"


class UnknownCommandError(Exception):
    pass


class RecordingEnviron(Mapping[str, str]):
    """A mapping that remembers every key looked up, present or not."""

    def __init__(self, data: Mapping[str, str]) -> None:
        self._data = dict(data)
        self.seen: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.seen.add(key)
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.seen.add(key)
        return key in self._data

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self.seen.add(key)
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _cli_envvars(app: typer.Typer) -> set[str]:
    found: set[str] = set()

    # Typer ships its own copy of click: duck typing, not isinstance against ``click``.
    def walk(command: Any) -> None:
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            if isinstance(envvar, str):
                found.add(envvar)
            elif isinstance(envvar, list | tuple):
                found.update(envvar)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    return found


def controlplane_env(tmp: Path) -> set[str]:
    """Every ``AIOS_*`` variable the control plane reads (settings and CLI options)."""
    from aios.controlplane.cli import cli
    from aios.controlplane.settings import Settings

    seen: set[str] = set()
    for extra in ({}, {"AIOS_MQTT_URL": "mqtt://broker:1883", "AIOS_ENV": "production"}):
        env = RecordingEnviron({"AIOS_DATA_DIR": str(tmp), "AIOS_SECRET_KEY": "k" * 32, **extra})
        Settings.from_env(env)
        seen |= env.seen
    return seen | _cli_envvars(cli)


def agent_env(tmp: Path) -> set[str]:
    """Every ``AIOS_*`` variable the agent reads (declared settings, the deprecated model
    path, CLI options)."""
    from aios.agent.cli import app
    from aios.agent.environment import DEPRECATED_MODEL_PATH, known_variables

    return known_variables() | {DEPRECATED_MODEL_PATH} | _cli_envvars(app)


def executables() -> dict[str, typer.Typer]:
    """The console scripts of the distributions and their Typer apps."""
    from aios.agent.cli import app
    from aios.controlplane.cli import cli

    return {"aios": cli, "aios-agent": app}


def check_command(argv: list[str]) -> None:
    """Parse ``argv`` (``aios``/``aios-agent`` and its arguments) with the real CLI: raises
    a usage error for an unknown command or option, ``KeyError`` for an unknown
    executable. ``sh -c "a && b"`` is split and each part checked."""
    if argv[:2] == ["sh", "-c"]:
        for part in argv[2].split("&&"):
            words = shlex.split(part)
            if words and words[0] == "exec":
                words = words[1:]
            check_command(words)
        return
    app = executables()[argv[0]]
    command: Any = typer.main.get_command(app)
    args = list(argv[1:])
    while hasattr(command, "commands") and args and not args[0].startswith("-"):
        name = args.pop(0)
        if name not in command.commands:
            raise UnknownCommandError(f"{argv[0]}: no command {name!r}")
        command = command.commands[name]
    assert not hasattr(command, "commands"), f"{argv}: names a group, not a command"
    command.make_context(argv[0], args)


def command_option(argv: list[str], option: str) -> str | None:
    """The value of ``option`` in a command line (``sh -c`` strings searched too)."""
    words = shlex.split(argv[2]) if argv[:2] == ["sh", "-c"] else argv
    for i, word in enumerate(words[:-1]):
        if word == option:
            return words[i + 1]
    return None


def mosquitto_listeners(conf: Path) -> set[int]:
    ports = set()
    for line in conf.read_text().splitlines():
        words = line.split()
        if words[:1] == ["listener"]:
            ports.add(int(words[1]))
    return ports


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out
