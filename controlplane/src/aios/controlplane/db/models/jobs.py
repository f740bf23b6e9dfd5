"""Bookkeeping of the in-process scheduled jobs, shared by every control-plane replica.

One row per job name: when it last started and finished, on which replica, and its last error.
A replica runs a job only while holding the job's database lock and only when the row says the
job has not started within the last part of its interval, so that N replicas run it once per
interval rather than N times (see :mod:`aios.controlplane.jobs.locks`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from aios.controlplane.db.base import Base


class JobRun(Base):
    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    runs: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
