"""``aios login|logout``, ``aios users``, ``aios devices``, ``aios tokens``, ``aios pipelines``.

Tables for people, ``--json`` for scripts. httpx, SQLAlchemy and YAML are imported inside the
commands (``aios --help`` stays fast).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from aios.controlplane.errors import ControlPlaneError
from aios.controlplane.operator.login_store import login_path

Url = Annotated[
    str | None,
    typer.Option("--url", envvar="AIOS_URL", help="Control plane URL (default: the login's)."),
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="AIOS_TOKEN", help="Bearer token (default: the login's)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PAGE = 200
"""Rows asked for per list (the API's largest page)."""

users_app = typer.Typer(
    help="Users of your organization.", no_args_is_help=True, rich_markup_mode=None
)
devices_app = typer.Typer(
    help="Devices of your fleet.", no_args_is_help=True, rich_markup_mode=None
)
tokens_app = typer.Typer(
    help="Device enrollment tokens.", no_args_is_help=True, rich_markup_mode=None
)
pipelines_app = typer.Typer(
    help="Pipelines and deployments.", no_args_is_help=True, rich_markup_mode=None
)


def _fail(exc: ControlPlaneError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _api(url: str | None, token: str | None) -> Any:
    from aios.controlplane.operator.client import ApiClient

    try:
        return ApiClient(url, token, login_path())
    except ControlPlaneError as exc:
        raise _fail(exc) from None


def _call(client: Any, method: str, path: str, body: object = None, **params: Any) -> Any:
    try:
        return client.call(
            method, path, body, params={k: v for k, v in params.items() if v is not None} or None
        )
    except ControlPlaneError as exc:
        raise _fail(exc) from None


def _print(data: Any, columns: list[str], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    rows = data["items"] if isinstance(data, dict) and "items" in data else data
    rows = rows if isinstance(rows, list) else [rows]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return str(value)


# -- login --------------------------------------------------------------------------------------
def login(
    url: Annotated[str, typer.Argument(help="Control plane URL, e.g. https://aios.example.")],
    email: Annotated[str, typer.Option(envvar="AIOS_EMAIL", prompt=True, help="Your email.")],
    password: Annotated[
        str, typer.Option(envvar="AIOS_PASSWORD", prompt=True, hide_input=True, help="Password.")
    ],
) -> None:
    """Log in and keep the tokens in your config folder (mode 0600) for the other commands."""
    from aios.controlplane.operator.client import login as do_login

    path = login_path()
    try:
        do_login(url, email, password, path)
    except ControlPlaneError as exc:
        raise _fail(exc) from None
    typer.echo(f"logged in to {url.rstrip('/')} as {email} (tokens in {path})")


def logout() -> None:
    """Revoke the stored login's refresh token and forget the login."""
    import httpx

    from aios.controlplane.operator.login_store import load_login

    path = login_path()
    stored = load_login(path)
    if stored is None:
        typer.echo("not logged in")
        return
    try:
        httpx.post(
            f"{stored.url}/api/v1/auth/logout",
            json={"refresh_token": stored.refresh_token},
            timeout=10,
        )
    except httpx.HTTPError:
        typer.echo(f"warning: could not reach {stored.url} to revoke the token", err=True)
    path.unlink(missing_ok=True)
    typer.echo(f"logged out of {stored.url}")


# -- users --------------------------------------------------------------------------------------
@users_app.command("list")
def users_list(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """Users of your organization."""
    data = _call(_api(url, token), "GET", "/api/v1/organizations/users", limit=PAGE)
    _print(data, ["id", "email", "full_name", "role", "is_active"], as_json)


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="The new user's email.")],
    full_name: Annotated[str, typer.Option("--name", help="Full name.")],
    password: Annotated[
        str,
        typer.Option(
            envvar="AIOS_NEW_USER_PASSWORD",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="Their initial password.",
        ),
    ],
    role: Annotated[str, typer.Option(help="owner, admin, operator or viewer.")] = "viewer",
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Add a user to your organization with a role."""
    body = {"email": email, "full_name": full_name, "role": role, "password": password}
    user = _call(_api(url, token), "POST", "/api/v1/organizations/users", body)
    _print(user, ["id", "email", "role"], as_json)


@users_app.command("create-owner")
def users_create_owner(
    email: Annotated[str, typer.Option(help="The owner's email.")],
    organization: Annotated[str, typer.Option(help="The organization's name.")],
    password: Annotated[
        str,
        typer.Option(
            envvar="AIOS_OWNER_PASSWORD",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="The owner's password.",
        ),
    ],
    full_name: Annotated[str, typer.Option("--name", help="The owner's full name.")] = "Owner",
) -> None:
    """Create an organization and its owner in the database directly (the first account;
    uses AIOS_DATABASE_URL like `aios serve`)."""
    from aios.controlplane.cli import _settings, run_checked
    from aios.controlplane.operator.first_owner import create_owner

    settings = _settings()
    org_id, user_id = run_checked(
        lambda: create_owner(
            settings, email=email, password=password, full_name=full_name, org_name=organization
        )
    )
    typer.echo(f"created organization {org_id} with owner {email} ({user_id})")


# -- devices ------------------------------------------------------------------------------------
@devices_app.command("list")
def devices_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only devices with this tag.")] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Devices, with their status and tags."""
    data = _call(_api(url, token), "GET", "/api/v1/fleet", status=status, tag=tag, limit=PAGE)
    _print(data, ["id", "name", "status", "tags", "last_seen_at", "agent_version"], as_json)


@devices_app.command("show")
def devices_show(
    device_id: Annotated[str, typer.Argument(help="Device id.")],
    url: Url = None,
    token: Token = None,
) -> None:
    """One device, as JSON."""
    typer.echo(json.dumps(_call(_api(url, token), "GET", f"/api/v1/fleet/{device_id}"), indent=2))


@devices_app.command("add")
def devices_add(
    name: Annotated[str, typer.Argument(help="Device name.")],
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeatable).")] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Register a device by hand (devices normally enroll with a token)."""
    device = _call(_api(url, token), "POST", "/api/v1/fleet", {"name": name, "tags": tag or []})
    _print(device, ["id", "name", "tags"], as_json)


# -- tokens -------------------------------------------------------------------------------------
@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option(help="What the token is for.")] = "",
    max_uses: Annotated[int, typer.Option(help="Devices that may enroll with it.")] = 1,
    expires_in: Annotated[int, typer.Option(help="Lifetime, seconds.")] = 86400,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Tags of enrolled devices.")
    ] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Issue an enrollment token (printed once: `aios-agent enroll URL --token TOKEN`)."""
    body = {"name": name, "max_uses": max_uses, "expires_in_s": expires_in, "tags": tag or []}
    issued = _call(_api(url, token), "POST", "/api/v1/fleet/enrollment-tokens", body)
    if as_json:
        typer.echo(json.dumps(issued, indent=2))
    else:
        typer.echo(issued["token"])


@tokens_app.command("list")
def tokens_list(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """Enrollment tokens (never the tokens themselves)."""
    data = _call(_api(url, token), "GET", "/api/v1/fleet/enrollment-tokens", limit=PAGE)
    _print(data, ["id", "name", "uses", "max_uses", "expires_at", "revoked_at"], as_json)


@tokens_app.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="Enrollment token id.")],
    url: Url = None,
    token: Token = None,
) -> None:
    """Revoke an enrollment token."""
    _call(_api(url, token), "DELETE", f"/api/v1/fleet/enrollment-tokens/{token_id}")
    typer.echo(f"revoked {token_id}")


# -- pipelines ----------------------------------------------------------------------------------
@pipelines_app.command("list")
def pipelines_list(url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """Pipelines and their current versions."""
    data = _call(_api(url, token), "GET", "/api/v1/pipelines", limit=PAGE)
    _print(data, ["id", "name", "current_version", "updated_at"], as_json)


@pipelines_app.command("deploy")
def pipelines_deploy(
    spec_file: Annotated[
        Path, typer.Argument(help="Pipeline spec (YAML/JSON) or an agent config with one.")
    ],
    device: Annotated[list[str] | None, typer.Option("--device", help="A device id.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Devices with this tag.")] = None,
    name: Annotated[str | None, typer.Option(help="Pipeline name (default: the spec's).")] = None,
    canary: Annotated[float | None, typer.Option(help="Canary share first (0-1).")] = None,
    url: Url = None,
    token: Token = None,
    as_json: AsJson = False,
) -> None:
    """Create the pipeline (or a new version of the one with that name) and deploy it."""
    from aios.controlplane.operator.specs import read_spec

    try:
        spec = read_spec(spec_file)
    except ControlPlaneError as exc:
        raise _fail(exc) from None
    if not device and not tag:
        raise _fail(ControlPlaneError("say where to deploy: --device ID and/or --tag TAG"))
    pipeline_name = name or str(spec.get("name") or spec_file.stem)
    client = _api(url, token)
    existing = _call(client, "GET", "/api/v1/pipelines", limit=PAGE)["items"]
    match = next((p for p in existing if p["name"] == pipeline_name), None)
    if match is None:
        pipeline = _call(client, "POST", "/api/v1/pipelines", {"name": pipeline_name, "spec": spec})
    else:
        pipeline = _call(client, "PATCH", f"/api/v1/pipelines/{match['id']}", {"spec": spec})
    body: dict[str, Any] = {"device_ids": device or [], "tags": tag or []}
    if canary is not None:
        body["canary"] = {"share": canary}
    deployment = _call(client, "POST", f"/api/v1/pipelines/{pipeline['id']}/execute", body)
    if as_json:
        typer.echo(json.dumps(deployment, indent=2))
        return
    counts = ", ".join(f"{n} {s}" for s, n in sorted(deployment.get("counts", {}).items()))
    typer.echo(
        f"deployed {pipeline_name} v{deployment['version']} as {deployment['id']} "
        f"({deployment['stage']}: {counts or 'no targets'})"
    )


def register(app: typer.Typer) -> None:
    """Add the operator commands to ``aios``."""
    app.command("login")(login)
    app.command("logout")(logout)
    app.add_typer(users_app, name="users")
    app.add_typer(devices_app, name="devices")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(pipelines_app, name="pipelines")
