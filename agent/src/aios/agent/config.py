"""Agent settings: one local config file (YAML, TOML or JSON by extension) plus ``AIOS_AGENT_*``
environment overrides, each field declared once below (type, constraints, default,
description); the override of ``mqtt.url`` is ``AIOS_AGENT_MQTT_URL`` (see
:mod:`aios.agent.environment`, and ``docs/configuration.md`` generated from the declarations).

Unknown fields are rejected so that a typo fails fast with a message naming the field and the
file. The ``pipeline`` section is decoded by :func:`aios.shared.pipeline.decode_pipeline`, the
same validation the control plane runs. Nothing here probes hardware or the network.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
import yaml
from msgspec import Meta, Struct

from aios.agent.credentials import DeviceCredentials, load_credentials
from aios.agent.environment import ENV_PREFIX, AgentEnvironment, read_environment
from aios.agent.errors import ConfigError
from aios.shared import envvars
from aios.shared.envvars import EnvVarError, describe
from aios.shared.errors import PipelineValidationError
from aios.shared.fields import Identifier
from aios.shared.pipeline import PipelineSpec, decode_pipeline
from aios.shared.topics import DEFAULT_PREFIX

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 on JetPack
    import tomli as tomllib

MqttUrl = Annotated[str, Meta(pattern=r"^mqtts?://[^/\s]+/?$(?!\n)")]
HttpUrl = Annotated[str, Meta(pattern=r"^https?://[^\s]+$(?!\n)")]
ListenAddress = Annotated[str, Meta(pattern=r"^\S+:\d{1,5}$(?!\n)")]
DEFAULT_STATE_DIR = "~/.local/state/aios-agent"
CREDENTIALS_FILE = "credentials.json"


class _Section(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


# One line per setting: the field (its override is AIOS_AGENT_ + its path in upper case, e.g.
# AIOS_AGENT_MQTT_URL), its type and constraints, its description, its default.
# fmt: off
class DeviceSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    org_id: Annotated[Identifier, describe("the device's organization", env="ORG_ID", default_doc="the enrollment's")]
    device_id: Annotated[Identifier, describe("the device's id", env="DEVICE_ID", default_doc="the enrollment's")]


class TlsSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Paths of the CA bundle and, for mutual TLS, the client certificate and key."""

    ca: Annotated[str | None, describe("CA bundle verifying the broker", default_doc="system CAs")] = None
    cert: Annotated[str | None, describe("client certificate (PEM), for mutual TLS")] = None
    key: Annotated[str | None, describe("its private key (PEM)")] = None
    insecure: Annotated[bool, describe("do not verify the broker's certificate (testing only)")] = False


class MqttSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``url`` is ``mqtt://host[:port]`` (plain, default port 1883) or ``mqtts://`` (TLS, 8883)."""

    url: Annotated[MqttUrl, describe("the broker: `mqtt://host[:port]` or `mqtts://` (TLS)", default_doc="the enrollment's, else mqtt://127.0.0.1:1883")] = "mqtt://127.0.0.1:1883"
    username: Annotated[str | None, describe("broker login", default_doc="the enrollment's")] = None
    password: Annotated[str | None, describe("its password", secret=True, default_doc="the enrollment's")] = None
    topic_prefix: Annotated[str, describe("first topic segments (the control plane's AIOS_MQTT_TOPIC_PREFIX)")] = DEFAULT_PREFIX
    keepalive_s: Annotated[int, describe("MQTT keep-alive, seconds", ge=5, le=3600)] = 30
    protocol: Annotated[Literal["5", "3.1.1"], describe("MQTT version")] = "5"
    tls: TlsSettings | None = None
    inflight_window: Annotated[int, describe("messages sent and not yet acknowledged by the broker", ge=1, le=1000)] = 64
    ack_timeout_s: Annotated[float, describe("a batch or event the broker took but the control plane has not confirmed stored within this time is sent again (see `transport/resend.py`)", ge=0.5, le=3600)] = 20.0
    resend_limit: Annotated[int, describe("at most this many messages are sent again per resend round", ge=1, le=100_000)] = 1000
    # fmt: on

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def uses_tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts" or self.tls is not None


# fmt: off
class SpoolSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """On-disk outbox."""

    path: Annotated[str | None, describe("the outbox's SQLite file", default_doc="spool.sqlite in the state dir")] = None
    max_bytes: Annotated[int, describe("the outbox's size cap: beyond it the oldest, least important messages are dropped (and counted)", ge=64 * 1024)] = 256 * 1024 * 1024


class ApplySettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Remote config apply: a new pipeline that crashes within ``grace_s`` is rolled back."""

    enabled: Annotated[bool, describe("apply the pipelines the control plane deploys")] = True
    grace_s: Annotated[float, describe("a new pipeline that fails within this time is rolled back", ge=0)] = 30.0
    start_timeout_s: Annotated[float, describe("a new pipeline must start within this time", gt=0)] = 30.0


class ConfigFile(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The config file's top level, as written (before credentials and path resolution)."""

    device: DeviceSettings | None = None
    mqtt: MqttSettings = MqttSettings()
    heartbeat_interval_s: Annotated[float, describe("heartbeat interval, seconds", gt=0, le=3600)] = 10.0
    spool: SpoolSettings = SpoolSettings()
    state_dir: Annotated[str, describe("credentials, sequence numbers, the last good pipeline")] = DEFAULT_STATE_DIR
    model_path: Annotated[str | None, describe("model file every detect node uses, whatever its `model`", default_doc="the node's model")] = None
    model_override: Annotated[bool, describe("`model_path` replaces every pipeline's model (else it stands in for the default model `yolov8n` only)")] = False
    model_cache_dir: Annotated[str | None, describe("not used (the model cache is AIOS_AGENT_CACHE_DIR); accepted so that files setting it still load")] = None
    apply: ApplySettings = ApplySettings()
    pipeline: Annotated[dict[str, object] | None, Meta(extra={"internal": True})] = None
    control_plane_url: Annotated[HttpUrl | None, describe("the control plane (snapshot uploads, clock checks)", default_doc="the enrollment's")] = None
    metrics_listen: Annotated[ListenAddress | None, describe("host:port of the local Prometheus endpoint (needs the metrics extra; port 0: any free one)")] = None
# fmt: on


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Validated settings. Paths are absolute (relative ones resolve against the config file)."""

    device: DeviceSettings
    mqtt: MqttSettings
    heartbeat_interval_s: float
    spool: SpoolSettings
    state_dir: Path
    spool_path: Path
    model_path: Path | None
    """The local file of the default model (``yolov8n``): what a pipeline naming ``yolov8n``
    (or no model) loads. A pipeline naming another model loads that one."""
    model_cache_dir: Path | None
    apply: ApplySettings
    pipeline: PipelineSpec | None
    source: Path | None = None
    model_override: bool = False
    """The operator says otherwise: ``model_path`` replaces every pipeline's model."""
    control_plane_url: str | None = None
    """Base URL of the control plane (snapshot uploads, clock checks); ``None``: none."""
    metrics_listen: tuple[str, int] | None = None
    """Host and port of the local Prometheus endpoint (``metrics_listen: "127.0.0.1:9464"``;
    needs the ``metrics`` extra); ``None`` (the default): no endpoint."""
    environment: AgentEnvironment = field(default_factory=AgentEnvironment)
    """The process's environment (the model cache, the manifest) the config was built with."""

    @property
    def credentials_path(self) -> Path:
        return self.state_dir / CREDENTIALS_FILE


def _read_file(path: Path) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            data: object = yaml.safe_load(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(
                f"{path}: unknown config format {suffix!r} (use .yaml, .toml or .json)"
            )
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {suffix.lstrip('.')}: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return {str(k): v for k, v in data.items()}


def config_variables() -> set[str]:
    """Every ``AIOS_AGENT_*`` variable overriding a config field (``_FILE`` variants too)."""
    return envvars.names(ConfigFile, ENV_PREFIX)


def config_overrides(environment: AgentEnvironment) -> dict[str, Any]:
    """The config fields the environment's ``AIOS_AGENT_*`` variables set, typed and nested
    (``{"mqtt": {"url": ...}}``); raises :class:`ConfigError` naming a bad one."""
    try:
        return envvars.overrides(ConfigFile, environment.variables, ENV_PREFIX)
    except EnvVarError as exc:
        raise ConfigError(str(exc)) from None


def _merge(data: dict[str, object], overrides: Mapping[str, object]) -> None:
    """Deep-merge the environment's ``overrides`` into the config file's ``data``."""
    for key, value in overrides.items():
        section = data.get(key)
        if isinstance(value, Mapping):
            if not isinstance(section, dict):
                section = data[key] = {}
            _merge(section, value)
        else:
            data[key] = value


_AT = re.compile(r"\s*-\s*at `\$(?P<path>[^`]*)`")


def _field_error(where: str, exc: msgspec.ValidationError) -> ConfigError:
    text = str(exc)
    match = _AT.search(text)
    reason = _AT.sub("", text)
    if match is None:
        return ConfigError(f"{where}: {reason}")
    return ConfigError(f"{where}: field {match.group('path').lstrip('.')!r}: {reason}")


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6; port 0: any free one) to ``(host, port)``."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"field 'metrics_listen': expected host:port, got {value!r}")
    return host, int(port)


def _listen(where: str, value: str) -> tuple[str, int]:
    try:
        return parse_listen(value)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _resolve(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base / path).resolve()


def build_config(
    data: Mapping[str, object],
    *,
    source: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> AgentConfig:
    """Validate an already-parsed mapping, with the overrides among the ``environ`` variables
    (the process's, :attr:`AgentEnvironment.variables`; none by default), into an
    :class:`AgentConfig`."""
    where = str(source) if source is not None else "config"
    merged = json.loads(json.dumps(dict(data), default=str))
    if not isinstance(merged, dict):  # pragma: no cover - json of a dict is a dict
        raise ConfigError(f"{where}: the top level must be a mapping")
    environment = read_environment(environ or {})
    _merge(merged, config_overrides(environment))
    try:
        raw = msgspec.convert(merged, ConfigFile)
    except msgspec.ValidationError as exc:
        raise _field_error(where, exc) from None
    pipeline: PipelineSpec | None = None
    if raw.model_override and not raw.model_path:
        raise ConfigError(f"{where}: field 'model_override': needs model_path (the model to run)")
    if raw.pipeline is not None:
        try:
            pipeline = decode_pipeline(raw.pipeline)
        except PipelineValidationError as exc:
            raise ConfigError(f"{where}: pipeline: {exc}") from None
    base = source.parent.resolve() if source is not None else Path.cwd()
    state_dir = _resolve(base, raw.state_dir)
    device, mqtt, control_plane_url = _with_credentials(where, raw, merged, state_dir)
    spool_path = _resolve(base, raw.spool.path) if raw.spool.path else state_dir / "spool.sqlite"
    return AgentConfig(
        device=device,
        mqtt=mqtt,
        heartbeat_interval_s=raw.heartbeat_interval_s,
        spool=raw.spool,
        state_dir=state_dir,
        spool_path=spool_path,
        model_path=_resolve(base, raw.model_path) if raw.model_path else None,
        model_override=raw.model_override,
        model_cache_dir=_resolve(base, raw.model_cache_dir) if raw.model_cache_dir else None,
        apply=raw.apply,
        pipeline=pipeline,
        source=source,
        control_plane_url=control_plane_url,
        metrics_listen=None if raw.metrics_listen is None else _listen(where, raw.metrics_listen),
        environment=environment,
    )


def _with_credentials(
    where: str, raw: ConfigFile, merged: Mapping[str, object], state_dir: Path
) -> tuple[DeviceSettings, MqttSettings, str | None]:
    """Fill what the config omits (the device identity, the MQTT login, the broker and the
    control plane URL) from the credentials ``aios-agent enroll`` stored in the state dir.
    What the config (or the environment) sets always wins."""
    mqtt = raw.mqtt
    need = raw.device is None or mqtt.username is None or raw.control_plane_url is None
    creds: DeviceCredentials | None = None
    if need:
        creds = load_credentials(state_dir / CREDENTIALS_FILE)
    if creds is None:
        if raw.device is None:
            raise ConfigError(
                f"{where}: field 'device': missing (set device.org_id and device.device_id, "
                "or run `aios-agent enroll` first)"
            )
        return raw.device, mqtt, raw.control_plane_url
    device = raw.device or DeviceSettings(org_id=creds.org_id, device_id=creds.device_id)
    if mqtt.username is None:
        given = merged.get("mqtt")
        explicit = given if isinstance(given, dict) else {}
        changes: dict[str, object] = {
            "username": creds.mqtt.username,
            "password": creds.mqtt.password,
        }
        if "url" not in explicit:
            changes["url"] = creds.mqtt.url
        if "topic_prefix" not in explicit:
            changes["topic_prefix"] = creds.mqtt.topic_prefix
        if "protocol" not in explicit:
            changes["protocol"] = creds.mqtt.protocol
        try:
            builtins = msgspec.to_builtins(mqtt)
            mqtt = msgspec.convert({**builtins, **changes}, MqttSettings)
        except msgspec.ValidationError as exc:
            raise _field_error(f"{state_dir / CREDENTIALS_FILE}", exc) from None
    return device, mqtt, raw.control_plane_url or creds.control_plane_url


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> AgentConfig:
    """Read, merge with the ``AIOS_AGENT_*`` overrides among ``environ``, and validate the
    config file at ``path``."""
    return build_config(_read_file(path), source=path, environ=environ)
