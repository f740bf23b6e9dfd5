"""Settings of the control plane: each declared once below, read once from ``AIOS_*`` variables.

Every setting is one field of :class:`Settings`: its type (with ``Meta`` constraints), its
default and its description; the variable is ``AIOS_`` plus the field's name in upper case,
unless ``Meta(extra={"env": ...})`` names it. :mod:`aios.shared.envvars` reads them (an empty
variable is unset, a list is comma-separated, a secret may come from ``NAME_FILE``) and
:meth:`Settings.from_env` adds what depends on several settings. The CLI (or a test) calls it
once and passes the object down; nothing reads the environment at import time. The reference,
``docs/configuration.md`` and ``.env.example``, is generated from these declarations by
``scripts/settings_reference.py`` (a test fails when they are out of date).

To add a setting: one field below, then ``python -m scripts.settings_reference``.
"""

from __future__ import annotations

import logging
import secrets
import socket
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

import msgspec

from aios.controlplane import env as parse
from aios.controlplane.env import EMBEDDED, TLS_SCHEMES
from aios.controlplane.errors import SettingsError
from aios.shared import envvars
from aios.shared.envvars import EnvVarError, Secret, describe
from aios.shared.topics import DEFAULT_PREFIX

__all__ = ["EMBEDDED", "MqttEndpoint", "Secret", "Settings"]

log = logging.getLogger(__name__)

PREFIX = "AIOS_"
SECRET_KEY_FILENAME = "secret_key"
FOREIGN_PREFIXES = ("AIOS_AGENT_", "AIOS_TEST_", "AIOS_PG_", "AIOS_DEMO_", "AIOS_PROOF_")
"""``AIOS_*`` variables of other programs (the agent, tests, proof and demo scripts)."""
FOREIGN_VARIABLES = frozenset(
    {"AIOS_URL", "AIOS_TOKEN", "AIOS_EMAIL", "AIOS_PASSWORD", "AIOS_NEW_USER_PASSWORD"}
    | {"AIOS_OWNER_PASSWORD", "AIOS_CHROMIUM", "AIOS_MODELS_DIR", "AIOS_MODEL_PATH"}
)
"""Options of the operator commands (``aios login``...) and developer tools: not settings."""

Environment = Literal["dev", "production"]
MqttProtocol = Literal["5", "3.1.1"]
Provisioner = Literal["none", "dynsec"]
RegistrationMode = Literal["first-user", "invite", "open"]
LogFormat = Literal["console", "json"]
REGISTRATION_MODES: tuple[RegistrationMode, ...] = ("first-user", "invite", "open")
EMBEDDED_SERVICE_USERNAME = "aios-control-plane"
"""The control plane's own login on the embedded broker (its password is generated per run)."""


class MqttEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    """Where the ingest connects to, resolved from the settings."""

    host: str
    port: int
    tls: bool
    protocol: MqttProtocol
    username: str | None = None
    password: Secret | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of a client of this broker (``None`` without TLS): verifies the
        broker against ``ca_file`` (else the system CAs), presents ``cert_file`` if set."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file is not None:
            context.load_cert_chain(
                str(self.cert_file), str(self.key_file) if self.key_file else None
            )
        return context


def _service_secret() -> Secret:
    return Secret(secrets.token_urlsafe(32))


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting of the control plane, one field each (see the module docstring)."""

    # fmt: off
    env: Annotated[Environment, describe("`dev` or `production`")] = "dev"
    data_dir: Annotated[Path, describe("folder of the SQLite database and the dev secret key")] = Path("data")
    database_url: Annotated[str, describe("SQLAlchemy async URL (`sqlite+aiosqlite://` or `postgresql+asyncpg://`)", parse=parse.database_url, default_doc="SQLite in the data dir")] = ""
    secret_key: Annotated[Secret, describe("signing key; in `dev` generated once into the data dir (with a warning) when unset; required otherwise")] = Secret("")
    mqtt_url: Annotated[str, describe("`embedded` (amqtt in process) or `mqtt[s]://[user:password@]host:port`", parse=parse.mqtt_url)] = EMBEDDED
    mqtt_username: Annotated[str | None, describe("broker user name (overrides the URL's)")] = None
    mqtt_password: Annotated[Secret | None, describe("broker password (overrides the URL's)")] = None
    mqtt_protocol: Annotated[MqttProtocol, describe("MQTT version of an external broker")] = "5"
    mqtt_topic_prefix: Annotated[str, describe("first topic segments", parse=parse.topic_prefix)] = DEFAULT_PREFIX
    mqtt_client_id: Annotated[str, describe("ingest client id (stable: a persistent session)", parse=parse.identifier, default_doc="aios-ingest-HOSTNAME")] = ""
    mqtt_share_group: Annotated[str, describe("MQTT 5 shared-subscription group", parse=parse.identifier)] = "aios-ingest"
    mqtt_session_expiry_s: Annotated[int, describe("MQTT 5 session expiry, seconds", ge=0)] = 86400
    embedded_mqtt_host: Annotated[str, describe("bind address of the embedded broker")] = "127.0.0.1"
    embedded_mqtt_port: Annotated[int, describe("port of the embedded broker", ge=1, le=65535)] = 18830
    embedded_mqtt_anonymous: Annotated[bool, describe("the embedded broker lets anyone connect and use any topic (demos only); else devices log in with their enrollment credentials and use only their own topics")] = False
    embedded_mqtt_service_password: Annotated[Secret, describe("the control plane's login on the embedded broker", internal=True)] = msgspec.field(default_factory=_service_secret)
    mqtt_ca_file: Annotated[Path | None, describe("CA bundle to verify an `mqtts://` broker", default_doc="system CAs")] = None
    mqtt_client_cert_file: Annotated[Path | None, describe("client certificate (PEM) for an `mqtts://` broker")] = None
    mqtt_client_key_file: Annotated[Path | None, describe("its private key (PEM; needs the certificate)")] = None
    mqtt_provisioner: Annotated[Provisioner, describe("`none` (the broker asks the control plane: embedded, EMQX) or `dynsec` (enrollment creates the device on Mosquitto's dynamic security plugin)")] = "none"
    dynsec_admin_username: Annotated[str | None, describe("dynamic security admin user", env="MQTT_DYNSEC_ADMIN_USERNAME", default_doc="the MQTT user")] = None
    dynsec_admin_password: Annotated[Secret | None, describe("its password", env="MQTT_DYNSEC_ADMIN_PASSWORD", default_doc="the MQTT password")] = None
    emqx_hook_secret: Annotated[Secret | None, describe("shared secret EMQX presents to the HTTP auth hook (`/api/v1/brokers/emqx`); unset: the hook refuses")] = None
    emqx_api_url: Annotated[str, describe("EMQX's REST API (`http://emqx:18083`): deleting a device kicks its connection; unset: not kicked", parse=parse.http_url)] = ""
    emqx_api_key: Annotated[str, describe("an EMQX API key (with AIOS_EMQX_API_URL)")] = ""
    emqx_api_secret: Annotated[Secret | None, describe("its secret")] = None
    ingest_enabled: Annotated[bool, describe("`aios serve` runs the ingest in process")] = True
    ingest_batch_size: Annotated[int, describe("flush after this many messages", ge=1, le=100_000)] = 1000
    ingest_flush_interval_ms: Annotated[int, describe("... or after this long", ge=1)] = 200
    ingest_queue_size: Annotated[int, describe("bounded queue between the MQTT thread and the writer", ge=1)] = 10000
    ingest_max_payload_bytes: Annotated[int, describe("larger messages are dead-lettered", ge=1024)] = 256 * 1024
    ingest_stall_after_s: Annotated[int, describe("`/health` fails when no commit for this long while messages wait", ge=1, le=3600)] = 30
    auto_register_devices: Annotated[bool, describe("unknown devices are created under the topic's org (else their messages are dead-lettered)", default_doc="true in dev, false in production")] = True
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], describe("log level (any case)")] = "INFO"
    log_format: Annotated[LogFormat, describe("`console` (key=value text) or `json` (one object per line)")] = "console"
    access_token_ttl_min: Annotated[int, describe("lifetime of a JWT access token, minutes", ge=1, le=24 * 60)] = 60
    refresh_token_ttl_days: Annotated[int, describe("lifetime of a refresh token, days", ge=1, le=365)] = 30
    trusted_proxies: Annotated[tuple[str, ...], describe("comma-separated IPs/CIDRs of reverse proxies whose `X-Forwarded-For`/`-Proto` `aios serve` believes (the client address of rate limits); none: the TCP peer", parse=parse.networks)] = ()
    registration_mode: Annotated[RegistrationMode, describe("who may register an organization: `first-user` (the first registration only), `invite` (an invitation from `aios invite`) or `open` (anyone, throttled)", env="REGISTRATION")] = "first-user"
    cors_allowed_origins: Annotated[tuple[str, ...], describe("comma-separated web origins (`https://dash:3000`) whose pages may call the API (CORS), for a dashboard served from another origin; none: same origin only", parse=parse.origins)] = ()
    device_mqtt_url: Annotated[str, describe("broker URL handed to devices at enrollment (no credentials)", default_doc="the embedded broker, or AIOS_MQTT_URL without its user and password")] = ""
    presence_heartbeat_interval_s: Annotated[int, describe("devices' heartbeat interval, seconds", ge=1, le=86400, env="HEARTBEAT_INTERVAL_S")] = 10
    presence_missed_heartbeats: Annotated[int, describe("offline after this many intervals without a heartbeat", ge=1, le=100)] = 3
    heartbeat_retention_days: Annotated[int, describe("how long heartbeat history is kept, days (applied by the hourly storage maintenance job)", ge=1, le=3650)] = 7
    heartbeat_rollup_retention_days: Annotated[int, describe("how long the hourly heartbeat rollup is kept, days (hourly history outlives the samples)", ge=1, le=3650, env="HEARTBEAT_ROLLUP_DAYS")] = 90
    presence_debounce_ms: Annotated[int, describe("a presence change must hold this long to be published", ge=0, le=3_600_000)] = 5000
    deployment_timeout_s: Annotated[int, describe("a deployment target with no final answer from its device this long ends `expired`, seconds", ge=60, le=30 * 86400)] = 86400
    jobs_enabled: Annotated[bool, describe("run the scheduled jobs (presence, webhooks) in process")] = True
    webhook_timeout_s: Annotated[int, describe("HTTP timeout of one webhook delivery attempt, seconds", ge=1, le=300)] = 10
    webhook_max_attempts: Annotated[int, describe("attempts before a delivery is marked failed", ge=1, le=50)] = 6
    webhook_retry_base_ms: Annotated[int, describe("first retry delay (doubles per attempt)", ge=1, le=3_600_000)] = 2000
    webhook_cooldown_s: Annotated[int, describe("one notification per webhook, event type and subject per this many seconds (the rest are suppressed)", ge=0, le=86400 * 7)] = 300
    webhook_allowed_targets: Annotated[tuple[str, ...], describe("webhook destinations allowed besides public addresses (on-premises receivers): comma-separated IPs, CIDRs, host names, `*.suffix`; loopback, private, link-local (metadata) and reserved are refused else", parse=parse.networks_and_hosts)] = ()
    metrics_enabled: Annotated[bool, describe("serve Prometheus metrics at `GET /metrics`")] = True
    metrics_token: Annotated[Secret | None, describe("bearer token `/metrics` requires; unset: public (aggregates only: no tenant, device or user names)")] = None
    metrics_port: Annotated[int, describe("`aios ingest`: serve its `/metrics` on this port; 0: off (the API process serves them on its own port)", ge=0, le=65535)] = 0
    # fmt: on

    @property
    def access_token_ttl_s(self) -> int:
        return self.access_token_ttl_min * 60

    @property
    def refresh_token_ttl_s(self) -> int:
        return self.refresh_token_ttl_days * 86400

    @property
    def embedded_broker(self) -> bool:
        """Whether ``aios serve`` runs the amqtt broker in process."""
        return self.mqtt_url == EMBEDDED

    def device_broker_url(self) -> str:
        """The broker URL a device is told at enrollment (never with the control plane's
        credentials)."""
        if self.device_mqtt_url:
            return self.device_mqtt_url
        if self.embedded_broker:
            return f"mqtt://{self.embedded_mqtt_host}:{self.embedded_mqtt_port}"
        parts = urlsplit(self.mqtt_url)
        host = parts.hostname or "127.0.0.1"
        return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"

    def device_broker_protocol(self) -> MqttProtocol:
        """The MQTT version devices should speak to the broker they are told at enrollment."""
        return "3.1.1" if self.embedded_broker and not self.device_mqtt_url else self.mqtt_protocol

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def mqtt_endpoint(self) -> MqttEndpoint:
        """The broker the control plane's clients connect to (the embedded one speaks MQTT
        3.1.1 only; the control plane logs in there with its generated internal credential)."""
        if self.embedded_broker:
            return MqttEndpoint(
                host=self.embedded_mqtt_host,
                port=self.embedded_mqtt_port,
                tls=False,
                protocol="3.1.1",
                username=EMBEDDED_SERVICE_USERNAME,
                password=self.embedded_mqtt_service_password,
            )
        parts = urlsplit(self.mqtt_url)
        tls = parts.scheme in TLS_SCHEMES
        username = self.mqtt_username or (unquote(parts.username) if parts.username else None)
        password = self.mqtt_password or (
            Secret(unquote(parts.password)) if parts.password else None
        )
        return MqttEndpoint(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            protocol=self.mqtt_protocol,
            username=username,
            password=password,
            ca_file=self.mqtt_ca_file,
            cert_file=self.mqtt_client_cert_file,
            key_file=self.mqtt_client_key_file,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build the settings from ``environ`` (normally ``os.environ``); raises SettingsError
        naming the variable. Unknown ``AIOS_*`` variables are logged as warnings."""
        ours = {k: v for k, v in environ.items() if not k.startswith(FOREIGN_PREFIXES)}
        for line in envvars.unknown(ours, PREFIX, envvars.names(cls, PREFIX) | FOREIGN_VARIABLES):
            log.warning("%s", line)
        try:
            settings = envvars.read(cls, environ, PREFIX)
        except EnvVarError as exc:
            raise SettingsError(exc.name, exc.message) from None
        _check(settings)
        return msgspec.structs.replace(
            settings,
            database_url=settings.database_url
            or f"sqlite+aiosqlite:///{(settings.data_dir / 'aios.db').as_posix()}",
            secret_key=settings.secret_key if settings.secret_key.get() else _dev_key(settings),
            mqtt_client_id=settings.mqtt_client_id or f"aios-ingest-{socket.gethostname()}"[:64],
            auto_register_devices=settings.auto_register_devices
            if environ.get("AIOS_AUTO_REGISTER_DEVICES")
            else settings.env == "dev",
        )


def _check(s: Settings) -> None:
    """What one variable alone cannot say (each error names the variable to change)."""
    tls = not s.embedded_broker and urlsplit(s.mqtt_url).scheme in TLS_SCHEMES
    files = {
        "AIOS_MQTT_CA_FILE": s.mqtt_ca_file,
        "AIOS_MQTT_CLIENT_CERT_FILE": s.mqtt_client_cert_file,
        "AIOS_MQTT_CLIENT_KEY_FILE": s.mqtt_client_key_file,
    }
    for name, path in files.items():
        if path is not None and not tls:
            raise SettingsError(name, "needs an mqtts:// AIOS_MQTT_URL")
        if path is not None and not path.is_file():
            raise SettingsError(name, f"{path} is not a readable file")
    if s.mqtt_client_key_file is not None and s.mqtt_client_cert_file is None:
        raise SettingsError("AIOS_MQTT_CLIENT_KEY_FILE", "needs AIOS_MQTT_CLIENT_CERT_FILE")
    if s.mqtt_provisioner == "dynsec" and s.embedded_broker:
        raise SettingsError(
            "AIOS_MQTT_PROVISIONER", "'dynsec' needs an external Mosquitto (AIOS_MQTT_URL)"
        )
    if s.emqx_api_url and (not s.emqx_api_key or s.emqx_api_secret is None):
        raise SettingsError(
            "AIOS_EMQX_API_URL", "must be http(s):// with AIOS_EMQX_API_KEY and _SECRET"
        )
    if s.env == "production" and not s.secret_key.get():
        raise SettingsError("AIOS_SECRET_KEY", "is required when AIOS_ENV=production")


def _dev_key(settings: Settings) -> Secret:
    """A random key generated once and kept in the data dir (development only)."""
    path = settings.data_dir / SECRET_KEY_FILENAME
    try:
        if path.is_file():
            return Secret(path.read_text(encoding="utf-8").strip())
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key + "\n", encoding="utf-8")
        path.chmod(0o600)
    except OSError as exc:
        raise SettingsError("AIOS_SECRET_KEY", f"unset and {path} unusable: {exc}") from None
    log.warning("AIOS_SECRET_KEY is not set: generated a development key in %s", path)
    return Secret(key)
