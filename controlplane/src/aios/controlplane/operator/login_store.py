"""The operator's stored login: ``aios login`` keeps the API URL and the token pair in
``$XDG_CONFIG_HOME/aios/login.json`` (default ``~/.config/aios``), created with mode 0600 before
a byte is written (folder 0700) and replaced atomically. Nothing here prints a token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

LOGIN_MODE = 0o600


class StoredLogin(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    email: str
    access_token: str
    refresh_token: str

    def __repr__(self) -> str:
        return f"StoredLogin(url={self.url!r}, email={self.email!r}, tokens=***)"


def login_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "aios" / "login.json"


def save_login(login: StoredLogin, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, LOGIN_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(msgspec.json.encode(login))
        os.chmod(tmp, LOGIN_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_login(path: Path) -> StoredLogin | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=StoredLogin)
    except (FileNotFoundError, msgspec.DecodeError):
        return None
