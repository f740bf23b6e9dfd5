"""The control plane's logs: one parseable JSON object per line with the bound context, the same
for our loggers, structlog's and third-party ones (uvicorn's access log), secrets never in it."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any, cast

import structlog
from litestar.types import Scope
from structlog.contextvars import bound_contextvars

from aios.controlplane import log_setup
from aios.controlplane.accounts.principal import Caller
from aios.controlplane.db.models.accounts import Role

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_bound_context(log_output: io.StringIO) -> None:
    log_setup.configure("INFO", "json", stream=log_output)
    with bound_contextvars(org_id="acme", device_id="gw-1", stream="cam"):
        logging.getLogger("aios.controlplane.telemetry.writer").warning("refused: %s", "x")
        structlog.get_logger("aios.test").info("flushed", rows=3)
    logging.getLogger("aios.test").debug("below the level")
    stdlib, native = _lines(log_output)
    for line in (stdlib, native):
        assert {"org_id": "acme", "device_id": "gw-1", "stream": "cam"}.items() <= line.items()
        assert line["timestamp"].endswith("Z")
    assert stdlib["event"] == "refused: x"
    assert stdlib["level"] == "warning"
    assert stdlib["logger"] == "aios.controlplane.telemetry.writer"
    assert native["event"] == "flushed"
    assert native["rows"] == 3
    assert native["level"] == "info"


def test_uvicorn_access_lines_are_json_without_the_token(log_output: io.StringIO) -> None:
    log_setup.configure("INFO", "json", stream=log_output)
    from aios.controlplane import log_redaction

    log_redaction.install()
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/api/v1/ws?token={JWT}", "1.1", 101
    )
    (line,) = _lines(log_output)
    assert line["logger"] == "uvicorn.access"
    assert "/api/v1/ws?token=[redacted]" in line["event"]
    assert JWT not in log_output.getvalue()


def test_secrets_and_bytes_never_reach_a_line(log_output: io.StringIO) -> None:
    log_setup.configure("INFO", "json", stream=log_output)
    structlog.get_logger("aios.test").warning(
        "login", password="hunter2!", token=JWT, url=f"/x?refresh_token={JWT}", payload=b"\xff" * 9
    )
    logging.getLogger("aios.test").error("callback /cb?access_token=%s failed", JWT)
    first, second = _lines(log_output)
    assert first["password"] == first["token"] == "[redacted]"
    assert first["url"] == "/x?refresh_token=[redacted]"
    assert first["payload"] == "<9 bytes>"
    assert second["event"] == "callback /cb?access_token=[redacted] failed"
    assert "hunter2" not in log_output.getvalue()
    assert JWT not in log_output.getvalue()


def test_exceptions_are_one_json_line(log_output: io.StringIO) -> None:
    log_setup.configure("INFO", "json", stream=log_output)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("aios.test").exception("failed")
    (line,) = _lines(log_output)
    assert "RuntimeError: boom" in line["exception"]


def test_console_format_is_key_value_text(log_output: io.StringIO) -> None:
    log_setup.configure("INFO", "console", stream=log_output)
    with bound_contextvars(org_id="acme"):
        logging.getLogger("aios.test").info("started")
    text = log_output.getvalue()
    assert "started" in text
    assert "org_id=acme" in text
    assert "[info" in text


async def test_the_middleware_binds_the_callers_organization(log_output: io.StringIO) -> None:
    log_setup.configure("INFO", "json", stream=log_output)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        logging.getLogger("aios.test").info("handled %s", scope["path"])

    middleware = log_setup.LogContextMiddleware(app)
    caller = Caller(user_id="u1", org_id="acme", role=Role.VIEWER)
    await middleware(cast("Scope", {"type": "http", "path": "/a", "user": caller}), _receive, _send)
    await middleware(cast("Scope", {"type": "http", "path": "/public"}), _receive, _send)
    with_caller, public = _lines(log_output)
    assert with_caller["org_id"] == "acme"
    assert "org_id" not in public  # nothing left bound from the request before


async def _receive() -> Any:
    return {"type": "http.disconnect"}


async def _send(message: Any) -> None:
    return None


def test_the_app_keeps_the_configured_handler(log_output: io.StringIO, tmp_path: Path) -> None:
    """Building the app does not replace the root handler (Litestar's default logging config
    would install its own plain-text one): a line logged afterwards is still JSON."""
    from aios.controlplane.app import create_app
    from tests.controlplane.conftest import make_settings

    log_setup.configure("INFO", "json", stream=log_output)
    create_app(make_settings(tmp_path, AIOS_MQTT_URL="mqtt://127.0.0.1:1"))
    logging.getLogger("aios.controlplane.test").info("after the app")
    assert [line["event"] for line in _lines(log_output)] == ["after the app"]
