"""Registration: a mode the operator chooses (first user only by default, invitations, open),
a throttle per address, passwords checked for the common and the trivial, and one answer
whether or not an email already has an account (no enumeration)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from aios.controlplane.accounts.invitations import create_invitation
from aios.controlplane.app import create_app
from aios.controlplane.db import migrate
from aios.controlplane.db.engine import create_engine
from tests.controlplane.api.conftest import PASSWORD, Account, unique_email
from tests.controlplane.conftest import make_settings

REGISTER = "/api/v1/auth/register"


def _body(email: str, password: str = PASSWORD, **extra: str) -> dict[str, str]:
    return {
        "email": email,
        "password": password,
        "full_name": "Ann",
        "organization_name": "Acme",
        **extra,
    }


async def test_an_existing_email_gets_the_same_answer(client: AsyncTestClient[Any]) -> None:
    email = unique_email()
    first = await client.post(REGISTER, json=_body(email))
    again = await client.post(REGISTER, json=_body(email.upper(), organization_name="Other"))
    assert first.status_code == again.status_code == 202, (first.text, again.text)
    assert first.json() == again.json()
    assert email not in first.text
    # The account of the first registration is the one that signs in.
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200


async def test_registration_is_throttled_per_address(client: AsyncTestClient[Any]) -> None:
    codes = [
        (await client.post(REGISTER, json=_body(unique_email()))).status_code for _ in range(12)
    ]
    assert codes[:5] == [202] * 5, codes
    assert codes[-1] == 429, codes


def _weak(email: str) -> list[str]:
    local = email.split("@")[0]
    return [
        "aaaaaaaaaa",
        "1234567890",
        " " * 10,
        "0987654321",
        "abcdefghijkl",
        "qwertyuiop",
        "password123",
        "Sunshine2024!",
        "ababababab",
        "123123123123",
        f"{local}2024",
        f"{local.upper()}!!",
        email,
    ]


@pytest.mark.parametrize("index", range(13))
async def test_weak_passwords_are_refused(
    client: AsyncTestClient[Any], owner: Account, index: int
) -> None:
    email = unique_email("weakling")
    password = _weak(email)[index]
    registered = await client.post(REGISTER, json=_body(email, password))
    assert registered.status_code == 400, (password, registered.text)
    assert registered.json()["field"] == "password"
    added = await client.post(
        "/api/v1/organizations/users",
        headers=owner.headers,
        json={"email": email, "password": password, "full_name": "W", "role": "viewer"},
    )
    assert added.status_code == 400, (password, added.text)
    assert added.json()["field"] == "password"


@pytest.fixture
def fresh_instance(tmp_path: Path) -> Any:
    """An application on an empty SQLite database with the default settings (no mode set)."""

    async def start(**env: str) -> AsyncTestClient[Any]:
        url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        settings = make_settings(
            tmp_path, AIOS_DATABASE_URL=url, AIOS_INGEST_ENABLED="false", **env
        )
        engine = create_engine(settings)
        await migrate.upgrade(engine)
        await engine.dispose()
        return AsyncTestClient(app=create_app(settings, run_ingest=False))

    return start


async def test_by_default_only_the_first_user_registers(fresh_instance: Any) -> None:
    async with await fresh_instance(AIOS_REGISTRATION="") as client:
        first = await client.post(REGISTER, json=_body(unique_email()))
        assert first.status_code == 202, first.text
        second = await client.post(REGISTER, json=_body(unique_email()))
        assert second.status_code == 403, second.text


async def test_invite_only_registration(fresh_instance: Any, tmp_path: Path) -> None:
    async with await fresh_instance(AIOS_REGISTRATION="invite") as client:
        url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        engine = create_engine(make_settings(tmp_path, AIOS_DATABASE_URL=url))
        try:
            invitation = await create_invitation(engine, ttl_s=3600)
        finally:
            await engine.dispose()
        email = unique_email()
        without = await client.post(REGISTER, json=_body(email))
        forged = await client.post(REGISTER, json=_body(email, invitation="inv_nope"))
        assert (without.status_code, forged.status_code) == (403, 403)
        used = await client.post(REGISTER, json=_body(email, invitation=invitation))
        assert used.status_code == 202, used.text
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200
        twice = await client.post(REGISTER, json=_body(unique_email(), invitation=invitation))
        assert twice.status_code == 403


async def test_aios_invite_prints_a_working_invitation(fresh_instance: Any, tmp_path: Path) -> None:
    """The operator's path: ``aios invite`` on the host, then a registration with it."""
    from typer.testing import CliRunner

    from aios.controlplane.cli import cli

    async with await fresh_instance(AIOS_REGISTRATION="invite") as client:
        env = {
            "AIOS_DATA_DIR": str(tmp_path / "data"),
            "AIOS_SECRET_KEY": "k" * 64,
            "AIOS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}",
        }
        printed = await asyncio.to_thread(
            CliRunner().invoke, cli, ["invite", "--hours", "1"], env=env
        )
        assert printed.exit_code == 0, printed.output
        invitation = printed.output.strip()
        used = await client.post(REGISTER, json=_body(unique_email(), invitation=invitation))
        assert used.status_code == 202, used.text
