"""Settings of the control plane, read once from ``AIOS_*`` environment variables.

:meth:`Settings.from_env` is called once by the composition root (the CLI, or a test) and the
resulting object is passed down; nothing reads the environment at import time. Secrets also
accept a ``*_FILE`` variant naming a file that holds the value (Docker/Kubernetes secrets).

=============================== ====================================================== ==========
Variable                        Meaning                                                Default
=============================== ====================================================== ==========
AIOS_ENV                        ``dev`` or ``production``                              ``dev``
AIOS_DATA_DIR                   folder for the SQLite database, the dev secret key     ``./data``
AIOS_DATABASE_URL               SQLAlchemy async URL (``sqlite+aiosqlite`` or          SQLite in
                                ``postgresql+asyncpg``)                                data dir
AIOS_SECRET_KEY(_FILE)          signing key; in ``dev`` generated once into the data
                                dir (with a warning) when unset; required otherwise
AIOS_MQTT_URL                   ``embedded`` (amqtt in process) or ``mqtt://[u:p@]h:p`` ``embedded``
AIOS_MQTT_USERNAME              broker user name (overrides the URL's)
AIOS_MQTT_PASSWORD(_FILE)       broker password (overrides the URL's)
AIOS_MQTT_PROTOCOL              ``5`` or ``3.1.1`` for an external broker              ``5``
AIOS_MQTT_TOPIC_PREFIX          first topic segments                                   ``aios``
AIOS_MQTT_CLIENT_ID             ingest client id (stable: persistent session)          host name
AIOS_MQTT_SHARE_GROUP           MQTT 5 shared-subscription group                       aios-ingest
AIOS_MQTT_SESSION_EXPIRY_S      MQTT 5 session expiry                                  ``86400``
AIOS_EMBEDDED_MQTT_HOST         bind address of the embedded broker                    127.0.0.1
AIOS_EMBEDDED_MQTT_PORT         port of the embedded broker                            ``18830``
AIOS_EMBEDDED_MQTT_ANONYMOUS    the embedded broker lets anyone connect and use any    ``false``
                                topic (demos only); else devices log in with their
                                enrollment credentials and use only their own topics
AIOS_MQTT_CA_FILE               CA bundle to verify an ``mqtts://`` broker             system CAs
AIOS_MQTT_CLIENT_CERT_FILE      client certificate (PEM) for an ``mqtts://`` broker
AIOS_MQTT_CLIENT_KEY_FILE       its private key (PEM; needs the certificate)
AIOS_MQTT_PROVISIONER           ``none`` (the broker asks the control plane: embedded, ``none``
                                EMQX) or ``dynsec`` (enrollment creates the device on
                                Mosquitto's dynamic security plugin)
AIOS_MQTT_DYNSEC_ADMIN_USERNAME dynamic security admin user                            MQTT user
AIOS_MQTT_DYNSEC_ADMIN_PASSWORD its password                                           MQTT
  (_FILE)                                                                              password
AIOS_EMQX_HOOK_SECRET(_FILE)    shared secret EMQX presents to the HTTP auth hook
                                (``/api/v1/brokers/emqx``); unset: the hook refuses
AIOS_EMQX_API_URL               EMQX's REST API (``http://emqx:18083``): deleting a
                                device kicks its connection; unset: not kicked
AIOS_EMQX_API_KEY               an EMQX API key (with AIOS_EMQX_API_URL)
AIOS_EMQX_API_SECRET(_FILE)     its secret
AIOS_INGEST_ENABLED             ``aios serve`` runs the ingest in process              ``true``
AIOS_INGEST_BATCH_SIZE          flush after this many messages                         ``1000``
AIOS_INGEST_FLUSH_INTERVAL_MS   ... or after this long                                 ``200``
AIOS_INGEST_QUEUE_SIZE          bounded queue between MQTT thread and writer           ``10000``
AIOS_INGEST_MAX_PAYLOAD_BYTES   larger messages are dead-lettered                      262144
AIOS_INGEST_STALL_AFTER_S       ``/health`` fails when no commit for this long while   ``30``
                                messages wait
AIOS_AUTO_REGISTER_DEVICES      unknown devices are created under the topic's org      dev: true
                                (else their messages are dead-lettered)                prod: false
AIOS_LOG_LEVEL                  ``DEBUG``, ``INFO``...                                 ``INFO``
AIOS_LOG_FORMAT                 ``console`` (key=value text) or ``json`` (one object   console
                                per line, for a log shipper)
AIOS_ACCESS_TOKEN_TTL_MIN       lifetime of a JWT access token, minutes                ``60``
AIOS_REFRESH_TOKEN_TTL_DAYS     lifetime of a refresh token, days                      ``30``
AIOS_REGISTRATION               who may register an organization: ``first-user`` (the  first-user
                                first registration only), ``invite`` (an invitation
                                from ``aios invite``) or ``open`` (anyone, throttled)
AIOS_TRUSTED_PROXIES            comma-separated IPs/CIDRs of reverse proxies whose     none
                                ``X-Forwarded-For``/``-Proto`` ``aios serve`` believes
                                (the client address of rate limits); none: the TCP peer
AIOS_DEVICE_MQTT_URL            broker URL handed to devices at enrollment (no         derived
                                credentials); default: the embedded broker or
                                AIOS_MQTT_URL without its user and password
AIOS_HEARTBEAT_INTERVAL_S       devices' heartbeat interval, seconds                   ``10``
AIOS_PRESENCE_MISSED_HEARTBEATS offline after this many intervals without a heartbeat  ``3``
AIOS_PRESENCE_DEBOUNCE_MS       a presence change must hold this long to be published  ``5000``
AIOS_JOBS_ENABLED               run the scheduled jobs (presence, webhooks) in process ``true``
AIOS_WEBHOOK_TIMEOUT_S          HTTP timeout of one webhook delivery attempt           ``10``
AIOS_WEBHOOK_MAX_ATTEMPTS       attempts before a delivery is marked failed            ``6``
AIOS_WEBHOOK_RETRY_BASE_MS      first retry delay (doubles per attempt)                ``2000``
AIOS_WEBHOOK_ALLOWED_TARGETS    webhook destinations allowed besides public addresses  none
                                (on-premises receivers): comma-separated IPs, CIDRs,
                                host names, ``*.suffix``; loopback, private,
                                link-local (metadata) and reserved are refused else
AIOS_WEBHOOK_COOLDOWN_S         one notification per webhook, event type and subject   ``300``
                                per this many seconds (the rest are suppressed)
=============================== ====================================================== ==========
"""

from __future__ import annotations

import logging
import secrets
import socket
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

import msgspec

from aios.controlplane import env as read
from aios.controlplane.env import Secret as Secret
from aios.controlplane.errors import SettingsError
from aios.shared.topics import DEFAULT_PREFIX, is_identifier

log = logging.getLogger(__name__)

EMBEDDED = "embedded"
SECRET_KEY_FILENAME = "secret_key"

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
    """Every setting of the control plane (see the module docstring for the variables)."""

    env: Environment = "dev"
    data_dir: Path = Path("data")
    database_url: str = ""
    secret_key: Secret = Secret("")
    mqtt_url: str = EMBEDDED
    mqtt_username: str | None = None
    mqtt_password: Secret | None = None
    mqtt_protocol: MqttProtocol = "5"
    mqtt_topic_prefix: str = DEFAULT_PREFIX
    mqtt_client_id: str = "aios-ingest"
    mqtt_share_group: str = "aios-ingest"
    mqtt_session_expiry_s: int = 86400
    embedded_mqtt_host: str = "127.0.0.1"
    embedded_mqtt_port: int = 18830
    embedded_mqtt_anonymous: bool = False
    embedded_mqtt_service_password: Secret = msgspec.field(default_factory=_service_secret)
    mqtt_ca_file: Path | None = None
    mqtt_client_cert_file: Path | None = None
    mqtt_client_key_file: Path | None = None
    mqtt_provisioner: Provisioner = "none"
    dynsec_admin_username: str | None = None
    dynsec_admin_password: Secret | None = None
    emqx_hook_secret: Secret | None = None
    emqx_api_url: str = ""
    emqx_api_key: str = ""
    emqx_api_secret: Secret | None = None
    ingest_enabled: bool = True
    ingest_batch_size: int = 1000
    ingest_flush_interval_ms: int = 200
    ingest_queue_size: int = 10000
    ingest_max_payload_bytes: int = 256 * 1024
    ingest_stall_after_s: int = 30
    auto_register_devices: bool = True
    log_level: str = "INFO"
    log_format: LogFormat = "console"
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 30 * 86400
    trusted_proxies: tuple[str, ...] = ()
    registration_mode: RegistrationMode = "first-user"
    device_mqtt_url: str = ""
    presence_heartbeat_interval_s: int = 10
    presence_missed_heartbeats: int = 3
    presence_debounce_ms: int = 5000
    jobs_enabled: bool = True
    webhook_timeout_s: int = 10
    webhook_max_attempts: int = 6
    webhook_retry_base_ms: int = 2000
    webhook_cooldown_s: int = 300
    webhook_allowed_targets: tuple[str, ...] = ()

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
        tls = parts.scheme in {"mqtts", "ssl", "tls"}
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
        """Build the settings from ``environ`` (normally ``os.environ``); raises SettingsError."""
        env = read.choice(environ, "AIOS_ENV", ("dev", "production"), "dev")
        data_dir = Path(environ.get("AIOS_DATA_DIR", "data")).expanduser()
        database_url = environ.get("AIOS_DATABASE_URL") or (
            f"sqlite+aiosqlite:///{(data_dir / 'aios.db').as_posix()}"
        )
        if not database_url.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
            raise SettingsError(
                "AIOS_DATABASE_URL",
                "must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL",
            )
        mqtt_url = environ.get("AIOS_MQTT_URL", EMBEDDED)
        if mqtt_url != EMBEDDED and urlsplit(mqtt_url).scheme not in {
            "mqtt", "tcp", "mqtts", "ssl", "tls",
        }:  # fmt: skip
            raise SettingsError("AIOS_MQTT_URL", "must be 'embedded' or an mqtt:// URL")
        prefix = environ.get("AIOS_MQTT_TOPIC_PREFIX", DEFAULT_PREFIX)
        if not all(is_identifier(p) for p in prefix.split("/")):
            raise SettingsError("AIOS_MQTT_TOPIC_PREFIX", "must be '/'-separated identifiers")
        password = read.secret(environ, "AIOS_MQTT_PASSWORD")
        tls_url = mqtt_url != EMBEDDED and urlsplit(mqtt_url).scheme in {"mqtts", "ssl", "tls"}
        ca_file = read.file_path(environ, "AIOS_MQTT_CA_FILE", tls_url)
        cert_file = read.file_path(environ, "AIOS_MQTT_CLIENT_CERT_FILE", tls_url)
        key_file = read.file_path(environ, "AIOS_MQTT_CLIENT_KEY_FILE", tls_url)
        if key_file is not None and cert_file is None:
            raise SettingsError("AIOS_MQTT_CLIENT_KEY_FILE", "needs AIOS_MQTT_CLIENT_CERT_FILE")
        provisioner = read.choice(environ, "AIOS_MQTT_PROVISIONER", ("none", "dynsec"), "none")
        if provisioner == "dynsec" and mqtt_url == EMBEDDED:
            raise SettingsError(
                "AIOS_MQTT_PROVISIONER", "'dynsec' needs an external Mosquitto (AIOS_MQTT_URL)"
            )
        emqx_api_url = environ.get("AIOS_EMQX_API_URL", "")
        if emqx_api_url and (
            urlsplit(emqx_api_url).scheme not in {"http", "https"}
            or not environ.get("AIOS_EMQX_API_KEY")
            or read.secret(environ, "AIOS_EMQX_API_SECRET") is None
        ):
            raise SettingsError(
                "AIOS_EMQX_API_URL", "must be http(s):// with AIOS_EMQX_API_KEY and _SECRET"
            )
        secret_key = read.secret(environ, "AIOS_SECRET_KEY")
        if secret_key is None:
            if env == "production":
                raise SettingsError("AIOS_SECRET_KEY", "is required when AIOS_ENV=production")
            secret_key = _dev_secret_key(data_dir)
        return cls(
            env=env,  # type: ignore[arg-type]
            data_dir=data_dir,
            database_url=database_url,
            secret_key=secret_key,
            mqtt_url=mqtt_url,
            mqtt_username=environ.get("AIOS_MQTT_USERNAME") or None,
            mqtt_password=password,
            mqtt_protocol=read.choice(environ, "AIOS_MQTT_PROTOCOL", ("5", "3.1.1"), "5"),  # type: ignore[arg-type]
            mqtt_topic_prefix=prefix,
            mqtt_client_id=read.identifier(
                environ, "AIOS_MQTT_CLIENT_ID", f"aios-ingest-{socket.gethostname()}"[:64]
            ),
            mqtt_share_group=read.identifier(environ, "AIOS_MQTT_SHARE_GROUP", "aios-ingest"),
            mqtt_session_expiry_s=read.integer(
                environ, "AIOS_MQTT_SESSION_EXPIRY_S", 86400, minimum=0
            ),
            embedded_mqtt_host=environ.get("AIOS_EMBEDDED_MQTT_HOST", "127.0.0.1"),
            embedded_mqtt_port=read.integer(environ, "AIOS_EMBEDDED_MQTT_PORT", 18830, 1, 65535),
            embedded_mqtt_anonymous=read.boolean(environ, "AIOS_EMBEDDED_MQTT_ANONYMOUS", False),
            mqtt_ca_file=ca_file,
            mqtt_client_cert_file=cert_file,
            mqtt_client_key_file=key_file,
            mqtt_provisioner=provisioner,  # type: ignore[arg-type]
            dynsec_admin_username=environ.get("AIOS_MQTT_DYNSEC_ADMIN_USERNAME") or None,
            dynsec_admin_password=read.secret(environ, "AIOS_MQTT_DYNSEC_ADMIN_PASSWORD"),
            emqx_hook_secret=read.secret(environ, "AIOS_EMQX_HOOK_SECRET"),
            emqx_api_url=emqx_api_url,
            emqx_api_key=environ.get("AIOS_EMQX_API_KEY", ""),
            emqx_api_secret=read.secret(environ, "AIOS_EMQX_API_SECRET"),
            ingest_enabled=read.boolean(environ, "AIOS_INGEST_ENABLED", True),
            ingest_batch_size=read.integer(environ, "AIOS_INGEST_BATCH_SIZE", 1000, 1, 100_000),
            ingest_flush_interval_ms=read.integer(environ, "AIOS_INGEST_FLUSH_INTERVAL_MS", 200, 1),
            ingest_queue_size=read.integer(environ, "AIOS_INGEST_QUEUE_SIZE", 10000, 1),
            ingest_max_payload_bytes=read.integer(
                environ, "AIOS_INGEST_MAX_PAYLOAD_BYTES", 256 * 1024, 1024
            ),
            ingest_stall_after_s=read.integer(environ, "AIOS_INGEST_STALL_AFTER_S", 30, 1, 3600),
            auto_register_devices=read.boolean(environ, "AIOS_AUTO_REGISTER_DEVICES", env == "dev"),
            log_level=read.choice(
                environ, "AIOS_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"
            ),
            log_format=read.choice(  # type: ignore[arg-type]
                environ, "AIOS_LOG_FORMAT", ("console", "json"), "console"
            ),
            access_token_ttl_s=60
            * read.integer(environ, "AIOS_ACCESS_TOKEN_TTL_MIN", 60, 1, 24 * 60),
            refresh_token_ttl_s=86400
            * read.integer(environ, "AIOS_REFRESH_TOKEN_TTL_DAYS", 30, 1, 365),
            trusted_proxies=read.networks(environ, "AIOS_TRUSTED_PROXIES"),
            registration_mode=read.choice(  # type: ignore[arg-type]
                environ, "AIOS_REGISTRATION", REGISTRATION_MODES, "first-user"
            ),
            device_mqtt_url=environ.get("AIOS_DEVICE_MQTT_URL", ""),
            presence_heartbeat_interval_s=read.integer(
                environ, "AIOS_HEARTBEAT_INTERVAL_S", 10, 1, 86400
            ),
            presence_missed_heartbeats=read.integer(
                environ, "AIOS_PRESENCE_MISSED_HEARTBEATS", 3, 1, 100
            ),
            presence_debounce_ms=read.integer(
                environ, "AIOS_PRESENCE_DEBOUNCE_MS", 5000, 0, 3_600_000
            ),
            jobs_enabled=read.boolean(environ, "AIOS_JOBS_ENABLED", True),
            webhook_timeout_s=read.integer(environ, "AIOS_WEBHOOK_TIMEOUT_S", 10, 1, 300),
            webhook_max_attempts=read.integer(environ, "AIOS_WEBHOOK_MAX_ATTEMPTS", 6, 1, 50),
            webhook_retry_base_ms=read.integer(
                environ, "AIOS_WEBHOOK_RETRY_BASE_MS", 2000, 1, 3_600_000
            ),
            webhook_cooldown_s=read.integer(environ, "AIOS_WEBHOOK_COOLDOWN_S", 300, 0, 86400 * 7),
            webhook_allowed_targets=read.networks(
                environ, "AIOS_WEBHOOK_ALLOWED_TARGETS", hosts=True
            ),
        )


def _dev_secret_key(data_dir: Path) -> Secret:
    """A random key generated once and kept in the data dir (development only)."""
    path = data_dir / SECRET_KEY_FILENAME
    try:
        if path.is_file():
            return Secret(path.read_text(encoding="utf-8").strip())
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key + "\n", encoding="utf-8")
        path.chmod(0o600)
    except OSError as exc:
        raise SettingsError("AIOS_SECRET_KEY", f"unset and {path} unusable: {exc}") from None
    log.warning("AIOS_SECRET_KEY is not set: generated a development key in %s", path)
    return Secret(key)
