"""A benchmark's own PostgreSQL database: created fresh on the server of ``--database-url``
(an asyncpg-style URL of a maintenance database), dropped after, whatever happened."""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def database_bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments of a benchmark on its own database: described by the first line of its
    ``doc``; ``--json``; ``--database-url`` (default ``AIOS_TEST_PG_URL`` or the local server)."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("AIOS_TEST_PG_URL", DEFAULT_SERVER),
        help="asyncpg URL of a maintenance database on the server (a fresh one is created)",
    )
    return parser


def sqlalchemy_url(url: str) -> str:
    """The asyncpg-style ``url`` as SQLAlchemy's ``postgresql+asyncpg://`` URL."""
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


@asynccontextmanager
async def fresh_database(server_url: str, prefix: str = "aios_bench") -> AsyncIterator[str]:
    """The asyncpg URL of a new database on ``server_url``'s server, dropped on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
