"""SQLite's one writer path: concurrent writers queue in order, readers never wait for them.

Before it, every writer waited in SQLite's busy handler, which polls with growing sleeps (up to
100 ms) and favours whoever happens to poll at the right moment: under a few busy writers one of
them waited for seconds; and a task that opened a second write transaction while holding one
waited for the whole busy timeout (30 s), then failed with ``database is locked``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from aios.controlplane.db.engine import create_engine
from tests.controlplane.conftest import make_settings

WRITERS = 10  # ingest flushes, presence changes, job runs, API writes: one task each
TRANSACTIONS = 25
MAX_WAIT_S = 1.0


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncEngine:
    url = f"sqlite+aiosqlite:///{tmp_path / 'aios.db'}"
    engine = create_engine(make_settings(tmp_path, AIOS_DATABASE_URL=url))
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE work (id INTEGER PRIMARY KEY, who INT, n INT)"))
        await conn.execute(text("CREATE TABLE tally (who INT PRIMARY KEY, n INT)"))
    return engine


async def test_concurrent_writers_never_lock_each_other_out(engine: AsyncEngine) -> None:
    waits: list[float] = []
    read_waits: list[float] = []
    errors: list[BaseException] = []
    writing = True

    async def writer(who: int) -> None:
        for n in range(TRANSACTIONS):
            started = time.monotonic()
            try:
                async with engine.begin() as conn:
                    # the wait is until the first write of the transaction is done
                    await conn.execute(
                        text("INSERT INTO work (who, n) VALUES (:w, :n)"), {"w": who, "n": n}
                    )
                    waits.append(time.monotonic() - started)
                    await conn.execute(text("SELECT count(*) FROM work WHERE who = :w"), {"w": who})
                    await asyncio.sleep(0.003)  # a transaction spans awaits (rows built, a publish)
                    await conn.execute(
                        text(
                            "INSERT INTO tally (who, n) VALUES (:w, 1) "
                            "ON CONFLICT (who) DO UPDATE SET n = n + 1"
                        ),
                        {"w": who},
                    )
            except OperationalError as exc:  # "database is locked"
                errors.append(exc)

    async def reader() -> None:
        while writing:
            started = time.monotonic()
            async with engine.connect() as conn:
                await conn.execute(text("SELECT count(*) FROM work"))
            read_waits.append(time.monotonic() - started)
            await asyncio.sleep(0.01)

    reading = asyncio.create_task(reader())
    try:
        await asyncio.wait_for(asyncio.gather(*(writer(w) for w in range(WRITERS))), 120)
    finally:
        writing = False
        await reading
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT sum(n) FROM tally"))).scalar()
    await engine.dispose()
    assert not errors, f"{len(errors)} writes failed: {errors[0]}"
    assert stored == WRITERS * TRANSACTIONS
    assert max(waits) < MAX_WAIT_S, f"a writer waited {max(waits):.2f} s for the database"
    assert max(read_waits) < MAX_WAIT_S, f"a reader waited {max(read_waits):.2f} s"


async def test_a_nested_write_transaction_fails_at_once_instead_of_stalling(
    engine: AsyncEngine,
) -> None:
    """One task holding the writer that opens a second write connection would wait for itself."""
    started = time.monotonic()
    async with engine.begin() as outer:
        await outer.execute(text("INSERT INTO work (who, n) VALUES (1, 1)"))
        with pytest.raises(OperationalError, match="database is locked"):
            async with engine.begin() as inner:
                await inner.execute(text("INSERT INTO work (who, n) VALUES (2, 2)"))
    assert time.monotonic() - started < 1.0
    async with engine.begin() as conn:  # the writer was given back: the next write goes through
        await conn.execute(text("INSERT INTO work (who, n) VALUES (3, 3)"))
        count = (await conn.execute(text("SELECT count(*) FROM work"))).scalar()
    await engine.dispose()
    assert count == 2
