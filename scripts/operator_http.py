"""A running control plane, seen from outside over HTTP: wait until it answers, sign up an
organization with its owner. Shared by the demo, the proof rig and the end-to-end tests."""

from __future__ import annotations

import subprocess
import time

import httpx


def _checked(response: httpx.Response, status: int) -> httpx.Response:
    """``response`` when it has ``status``; else an ``httpx.HTTPStatusError`` with its body."""
    if response.status_code != status:
        raise httpx.HTTPStatusError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text}",
            request=response.request,
            response=response,
        )
    return response


def wait_ok(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> str | None:
    """Poll ``url`` until it answers 200 (``None``); else why not: ``proc`` exited, or
    ``timeout`` seconds went by."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"the process exited with {proc.returncode}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return f"{url} did not answer within {timeout} s"


def register_owner(
    base: str, email: str, password: str, *, full_name: str, organization: str
) -> tuple[str, dict[str, str]]:
    """Sign up ``organization`` with its owner and sign in: the organization's id and the
    owner's ``Authorization`` header. Registration answers alike whether or not the email
    existed, so the id comes from asking who signed in."""
    _checked(
        httpx.post(
            f"{base}/api/v1/auth/register",
            json={
                "email": email,
                "password": password,
                "full_name": full_name,
                "organization_name": organization,
            },
            timeout=30,
        ),
        202,
    )
    login = _checked(
        httpx.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30
        ),
        200,
    )
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = _checked(httpx.get(f"{base}/api/v1/auth/me", headers=auth, timeout=30), 200)
    return str(me.json()["organization"]["id"]), auth
