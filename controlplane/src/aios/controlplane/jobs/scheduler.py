"""The scheduler: APScheduler 3's asyncio scheduler running :class:`Job` s under :class:`JobLocks`.

A job is a name, an interval and an async body taking the locked transaction's connection. Each
run goes through :meth:`JobLocks.run <aios.controlplane.jobs.locks.JobLocks.run>` (skipped when
another replica holds the lock or ran it within 90% of the interval). APScheduler is told
``max_instances=1`` and ``coalesce=True``: a slow run delays the next one instead of stacking.
A failing run is logged and noted on its ``job_runs`` row; the scheduler keeps going.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from aios.controlplane.db.storage import failures
from aios.controlplane.jobs.locks import JobBody, JobLocks

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    interval_s: float
    body: JobBody


@dataclass(slots=True)
class JobStats:
    runs: int = 0
    skipped: int = 0
    failures: int = 0


class JobScheduler:
    def __init__(self, locks: JobLocks) -> None:
        self.locks = locks
        self.jobs: dict[str, Job] = {}
        self.stats: dict[str, JobStats] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[bool]] = set()
        self._busy: set[str] = set()

    def add(self, job: Job) -> None:
        """Register ``job`` (before :meth:`start`); names are unique."""
        if job.name in self.jobs:
            raise ValueError(f"job {job.name!r} is already registered")
        self.jobs[job.name] = job
        self.stats[job.name] = JobStats()

    async def run_once(self, name: str) -> bool:
        """Run job ``name`` now (through the lock); whether it ran."""
        job = self.jobs[name]
        stats = self.stats[name]
        try:
            ran = await self.locks.run(job.name, job.interval_s * 0.9, job.body)
        except Exception as exc:  # one job's failure never stops the scheduler
            stats.failures += 1
            log.exception("job %s failed", name)
            try:
                # the reason only: never the SQL text nor parameter values of a failed statement
                await self.locks.record_error(name, str(failures.translate(exc)))
            except Exception:
                log.warning("could not record the failure of job %s", name)
            return False
        if ran:
            stats.runs += 1
        else:
            stats.skipped += 1
        return ran

    async def _tick(self, name: str) -> None:
        """APScheduler's callback: start a run unless one of this job is still going (a slow
        run delays the next; APScheduler itself never sees an overlap to warn about)."""
        if name in self._busy:
            self.stats[name].skipped += 1
            return
        self._busy.add(name)
        task = asyncio.create_task(self.run_once(name), name=f"aios-job-{name}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        task.add_done_callback(lambda _: self._busy.discard(name))

    async def start(self) -> None:
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone="UTC")
        for job in self.jobs.values():
            # frequent jobs start at once; hourly ones first run one interval after the start
            first = {"next_run_time": datetime.now(UTC)} if job.interval_s <= 60 else {}
            scheduler.add_job(
                self._tick,
                IntervalTrigger(seconds=job.interval_s),
                args=[job.name],
                id=job.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(job.interval_s)),
                **first,
            )
        scheduler.start()
        self._scheduler = scheduler

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop scheduling and wait (up to ``timeout``) for the runs in progress."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=timeout)
            for task in pending:
                task.cancel()
