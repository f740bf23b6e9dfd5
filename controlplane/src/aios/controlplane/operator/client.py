"""A small synchronous client of the control plane's REST API for the operator CLI.

The URL and bearer token come from the options (``--url``, ``--token``; ``AIOS_URL``,
``AIOS_TOKEN``), else the stored login, whose access token is refreshed once on a 401. Every
failure is an :class:`OperatorError` with one line to print (HTTP errors carry the API's own
message).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from aios.controlplane.errors import ControlPlaneError
from aios.controlplane.operator.login_store import StoredLogin, load_login, save_login

TIMEOUT_S = 30.0


class OperatorError(ControlPlaneError):
    """An operator command failed; the message is the line to print."""


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("message") or body
        return str(detail)
    return str(body)


class ApiClient:
    def __init__(self, url: str | None, token: str | None, login_file: Path) -> None:
        self._login_file = login_file
        self._login = load_login(login_file)
        base = url or (self._login.url if self._login else None)
        if not base:
            raise OperatorError("no control plane URL: pass --url, set AIOS_URL, or `aios login`")
        self.base = base.rstrip("/")
        self._token = token
        if token is None and (self._login is None or self._login.url.rstrip("/") != self.base):
            raise OperatorError(f"not logged in to {self.base}: run `aios login {self.base}`")

    def _bearer(self) -> str:
        if self._token is not None:
            return self._token
        assert self._login is not None
        return self._login.access_token

    def _refresh(self) -> bool:
        login = self._login
        if self._token is not None or login is None:
            return False
        response = self._send(
            "POST", "/api/v1/auth/refresh", {"refresh_token": login.refresh_token}, auth=False
        )
        if response.status_code != 200:
            return False
        pair = response.json()
        self._login = StoredLogin(
            url=login.url,
            email=login.email,
            access_token=pair["access_token"],
            refresh_token=pair["refresh_token"],
        )
        save_login(self._login, self._login_file)
        return True

    def _send(
        self, method: str, path: str, body: object = None, *, auth: bool = True,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:  # fmt: skip
        headers = {"Authorization": f"Bearer {self._bearer()}"} if auth else {}
        try:
            return httpx.request(
                method, self.base + path, json=body, params=params, headers=headers,
                timeout=TIMEOUT_S,
            )  # fmt: skip
        except httpx.HTTPError as exc:
            raise OperatorError(f"cannot reach {self.base}: {exc}") from None

    def call(
        self, method: str, path: str, body: object = None, params: dict[str, Any] | None = None
    ) -> Any:
        """The JSON answer of ``method path``; raises OperatorError on any failure."""
        response = self._send(method, path, body, params=params)
        if response.status_code == 401 and self._refresh():
            response = self._send(method, path, body, params=params)
        if response.status_code == 401:
            raise OperatorError(
                f"{self.base} refused the credentials: run `aios login {self.base}`"
            )
        if response.status_code >= 400:
            raise OperatorError(f"{method} {path}: {response.status_code} {_message(response)}")
        return None if response.status_code == 204 or not response.content else response.json()


def login(url: str, email: str, password: str, login_file: Path) -> StoredLogin:
    base = url.rstrip("/")
    try:
        response = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"email": email, "password": password},
            timeout=TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise OperatorError(f"cannot reach {base}: {exc}") from None
    if response.status_code != 200:
        raise OperatorError(f"login refused: {response.status_code} {_message(response)}")
    pair = response.json()
    stored = StoredLogin(
        url=base,
        email=email,
        access_token=pair["access_token"],
        refresh_token=pair["refresh_token"],
    )
    save_login(stored, login_file)
    return stored
