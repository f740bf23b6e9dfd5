"""Agent settings: one local config file (YAML, TOML or JSON by extension) plus ``AIOS_AGENT_*``
environment overrides.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec
import yaml
from msgspec import Meta, Struct

from aios.agent.credentials import DeviceCredentials, load_credentials
from aios.agent.errors import ConfigError
from aios.shared.errors import PipelineValidationError
from aios.shared.pipeline import PipelineSpec, decode_pipeline
from aios.shared.topics import DEFAULT_PREFIX

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 on JetPack
    import tomli as tomllib

# Python's "$" also matches before a final "\n": "(?!\n)" anchors at the true end (and is
# a no-op in JSON Schema's ECMA-262 regexes, where "$" already means the end).
Identifier = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.\-]{1,64}$(?!\n)")]
ENV_PREFIX = "AIOS_AGENT_"
DEFAULT_STATE_DIR = "~/.local/state/aios-agent"
CREDENTIALS_FILE = "credentials.json"


class _Section(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class DeviceSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    org_id: Identifier
    device_id: Identifier


class TlsSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Paths of the CA bundle and, for mutual TLS, the client certificate and key."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False


class MqttSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``url`` is ``mqtt://host[:port]`` (plain, default port 1883) or ``mqtts://`` (TLS, 8883)."""

    url: Annotated[str, Meta(pattern=r"^mqtts?://[^/\s]+/?$(?!\n)")] = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    topic_prefix: str = DEFAULT_PREFIX
    keepalive_s: Annotated[int, Meta(ge=5, le=3600)] = 30
    protocol: Literal["5", "3.1.1"] = "5"
    tls: TlsSettings | None = None
    inflight_window: Annotated[int, Meta(ge=1, le=1000)] = 64
    ack_timeout_s: Annotated[float, Meta(ge=0.5, le=3600)] = 20.0
    """A batch or event the broker took but the control plane has not confirmed stored within
    this time is sent again (see :mod:`aios.agent.transport.resend`)."""
    resend_limit: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    """At most this many messages are sent again per resend round."""

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


class SpoolSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """On-disk outbox. ``path`` defaults to ``spool.sqlite`` in the state directory."""

    path: str | None = None
    max_bytes: Annotated[int, Meta(ge=64 * 1024)] = 256 * 1024 * 1024


class ApplySettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Remote config apply: a new pipeline that crashes within ``grace_s`` is rolled back."""

    enabled: bool = True
    grace_s: Annotated[float, Meta(ge=0)] = 30.0
    start_timeout_s: Annotated[float, Meta(gt=0)] = 30.0


class _RawConfig(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    device: DeviceSettings | None = None
    mqtt: MqttSettings = MqttSettings()
    heartbeat_interval_s: Annotated[float, Meta(gt=0, le=3600)] = 10.0
    spool: SpoolSettings = SpoolSettings()
    state_dir: str = DEFAULT_STATE_DIR
    model_path: str | None = None
    model_override: bool = False
    model_cache_dir: str | None = None
    apply: ApplySettings = ApplySettings()
    pipeline: dict[str, object] | None = None
    control_plane_url: Annotated[str, Meta(pattern=r"^https?://[^\s]+$(?!\n)")] | None = None


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

    @property
    def credentials_path(self) -> Path:
        return self.state_dir / CREDENTIALS_FILE


# Environment variable -> dotted path in the config mapping.
ENV_FIELDS: dict[str, str] = {
    "ORG_ID": "device.org_id",
    "DEVICE_ID": "device.device_id",
    "MQTT_URL": "mqtt.url",
    "MQTT_USERNAME": "mqtt.username",
    "MQTT_PASSWORD": "mqtt.password",
    "MQTT_TOPIC_PREFIX": "mqtt.topic_prefix",
    "MQTT_PROTOCOL": "mqtt.protocol",
    "MQTT_KEEPALIVE_S": "mqtt.keepalive_s",
    "HEARTBEAT_INTERVAL_S": "heartbeat_interval_s",
    "SPOOL_PATH": "spool.path",
    "SPOOL_MAX_BYTES": "spool.max_bytes",
    "STATE_DIR": "state_dir",
    "MODEL_PATH": "model_path",
    "MODEL_OVERRIDE": "model_override",
    "MODEL_CACHE_DIR": "model_cache_dir",
    "CONTROL_PLANE_URL": "control_plane_url",
}
_NUMERIC = {"mqtt.keepalive_s", "heartbeat_interval_s", "spool.max_bytes"}
_BOOLEAN = {"model_override"}


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


def _env_value(environ: Mapping[str, str], name: str) -> str | None:
    """``NAME`` or the content of the file named by ``NAME_FILE`` (for secrets)."""
    if name in environ:
        return environ[name]
    file_name = environ.get(f"{name}_FILE")
    if file_name is None:
        return None
    try:
        return Path(file_name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {file_name}: {exc.strerror}") from None


def _apply_env(data: dict[str, object], environ: Mapping[str, str]) -> list[str]:
    applied: list[str] = []
    for suffix, dotted in ENV_FIELDS.items():
        value = _env_value(environ, ENV_PREFIX + suffix)
        if value is None:
            continue
        applied.append(ENV_PREFIX + suffix)
        section: dict[str, object] = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            child = section.get(part)
            if not isinstance(child, dict):
                child = {}
                section[part] = child
            section = child
        section[leaf] = _coerce(dotted, value, ENV_PREFIX + suffix)
    return applied


def _coerce(dotted: str, value: str, env: str) -> object:
    if dotted in _BOOLEAN:
        if value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if value.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{env}: expected true or false, got {value!r}")
    if dotted not in _NUMERIC:
        return value
    try:
        return float(value) if "." in value or dotted == "heartbeat_interval_s" else int(value)
    except ValueError:
        raise ConfigError(f"{env}: expected a number, got {value!r}") from None


_AT = re.compile(r"\s*-\s*at `\$(?P<path>[^`]*)`")


def _field_error(where: str, exc: msgspec.ValidationError) -> ConfigError:
    text = str(exc)
    match = _AT.search(text)
    reason = _AT.sub("", text)
    if match is None:
        return ConfigError(f"{where}: {reason}")
    return ConfigError(f"{where}: field {match.group('path').lstrip('.')!r}: {reason}")


def _resolve(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base / path).resolve()


def build_config(
    data: Mapping[str, object],
    *,
    source: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> AgentConfig:
    """Validate an already-parsed mapping (plus env overrides) into an :class:`AgentConfig`."""
    where = str(source) if source is not None else "config"
    merged = json.loads(json.dumps(dict(data), default=str))
    if not isinstance(merged, dict):  # pragma: no cover - json of a dict is a dict
        raise ConfigError(f"{where}: the top level must be a mapping")
    _apply_env(merged, os.environ if environ is None else environ)
    try:
        raw = msgspec.convert(merged, _RawConfig)
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
    )


def _with_credentials(
    where: str, raw: _RawConfig, merged: Mapping[str, object], state_dir: Path
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
    """Read, merge with ``AIOS_AGENT_*`` overrides, and validate the config file at ``path``."""
    return build_config(_read_file(path), source=path, environ=environ)
