"""Jobs run once across replicas: the database lock and the minimum gap between runs."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aios.controlplane.db.models import JobRun
from aios.controlplane.jobs.locks import JobLocks
from aios.controlplane.jobs.scheduler import Job, JobScheduler


async def test_two_replicas_never_run_a_job_at_the_same_time(engine: AsyncEngine) -> None:
    name = "job-" + uuid.uuid4().hex[:8]
    # On PostgreSQL the replicas share nothing but the database (advisory lock); SQLite serves
    # one process, where the lock is process-wide: the same JobLocks object stands for it.
    a = JobLocks(engine, "a")
    b = JobLocks(engine, "b") if engine.dialect.name == "postgresql" else a
    running = 0
    overlaps = 0
    started = asyncio.Event()

    async def body(conn: AsyncConnection) -> None:
        nonlocal running, overlaps
        running += 1
        overlaps += running > 1
        started.set()
        await asyncio.sleep(0.5)
        running -= 1

    first = asyncio.create_task(a.run(name, 0, body))
    await started.wait()
    assert await b.run(name, 0, body) is False  # locked by replica a
    assert await first is True
    assert overlaps == 0
    assert await b.run(name, 60, body) is False  # a ran it less than 60 s ago
    assert await b.run(name, 0, body) is True
    async with engine.connect() as conn:
        runs = await conn.scalar(select(JobRun.runs).where(JobRun.name == name))
    assert runs == 2


async def test_scheduler_runs_jobs_on_their_interval_and_survives_failures(
    engine: AsyncEngine,
) -> None:
    scheduler = JobScheduler(JobLocks(engine, "a"))
    ticks: list[str] = []

    async def ok(conn: AsyncConnection) -> None:
        ticks.append("ok")

    async def broken(conn: AsyncConnection) -> None:
        raise RuntimeError("boom")

    scheduler.add(Job("ok-" + uuid.uuid4().hex[:6], 0.2, ok))
    bad = "bad-" + uuid.uuid4().hex[:6]
    scheduler.add(Job(bad, 0.2, broken))
    await scheduler.start()
    await asyncio.sleep(1.1)
    await scheduler.stop()
    assert len(ticks) >= 3
    assert scheduler.stats[bad].failures >= 3
