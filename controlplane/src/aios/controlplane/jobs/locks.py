"""Run a job body once per interval across replicas, inside a database lock.

PostgreSQL: ``pg_try_advisory_xact_lock(hash(name))`` at the start of the job's transaction;
the body runs in that transaction, so the lock is held exactly as long as the body runs and is
released by commit, rollback or a dropped connection (a crashed replica never leaves it held).
A replica that does not get the lock skips this run.

SQLite: a SQLite database serves one control-plane process (replicas need PostgreSQL), so the
lock is a process-local :class:`asyncio.Lock` per job; the database file's own lock serializes
the writes.

On both, the ``job_runs`` row of the job is read inside the lock: if another replica started
the job less than ``min_gap_s`` ago, this run is skipped, so N replicas whose timers fire a
moment apart still run the job once per interval rather than N times.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aios.controlplane.db.models import JobRun
from aios.controlplane.db.scoped_session import system_transaction
from aios.controlplane.db.storage.dialect import conflict_insert, is_postgres
from aios.controlplane.tenancy import job_scope

JobBody = Callable[[AsyncConnection], Awaitable[object]]


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (the same on every replica)."""
    digest = hashlib.sha256(b"aios.jobs:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class JobLocks:
    """Decides, per run, whether this replica (``holder``) runs a job."""

    def __init__(self, engine: AsyncEngine, holder: str) -> None:
        self.engine = engine
        self.holder = holder[:128]
        self._postgres = is_postgres(engine.dialect)
        self._local: dict[str, asyncio.Lock] = {}

    async def run(self, name: str, min_gap_s: float, body: JobBody) -> bool:
        """Run ``body`` in a transaction holding ``name``'s lock; False if skipped."""
        if self._postgres:
            return await self._run(name, min_gap_s, body)
        lock = self._local.setdefault(name, asyncio.Lock())
        if lock.locked():
            return False
        async with lock:
            return await self._run(name, min_gap_s, body)

    async def _run(self, name: str, min_gap_s: float, body: JobBody) -> bool:
        async with system_transaction(self.engine, job_scope(name)) as conn:
            if self._postgres:
                got = await conn.scalar(select(func.pg_try_advisory_xact_lock(advisory_key(name))))
                if not got:
                    return False
            now = datetime.now(UTC)
            last = await conn.scalar(select(JobRun.started_at).where(JobRun.name == name))
            if last is not None:
                last = last if last.tzinfo else last.replace(tzinfo=UTC)
                if now - last < timedelta(seconds=min_gap_s):
                    return False
            insert = conflict_insert(self.engine.dialect, JobRun)
            upsert = insert.values(
                name=name, holder=self.holder, started_at=now, runs=1
            ).on_conflict_do_update(
                index_elements=[JobRun.name],
                set_={
                    "holder": insert.excluded.holder,
                    "started_at": insert.excluded.started_at,
                    "runs": JobRun.runs + 1,
                },
            )
            await conn.execute(upsert)
            await body(conn)
            await conn.execute(
                update(JobRun)
                .where(JobRun.name == name)
                .values(finished_at=datetime.now(UTC), last_error=None)
            )
        return True

    async def record_error(self, name: str, error: str) -> None:
        """Note a failed run on the job's row (in its own transaction)."""
        async with system_transaction(self.engine, job_scope(name)) as conn:
            await conn.execute(
                update(JobRun).where(JobRun.name == name).values(last_error=error[:500])
            )
