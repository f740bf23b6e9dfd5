"""Runs the current pipeline and applies new ones from ``cfg/desired`` safely.

Every desired config gets a final report, except the retained one redelivered after a
reconnect (the same pipeline, version, deployment and issue time as one already handled). A
config of the version already running (the same version deployed again, or a rollback to it) is
``applied`` at once, without a restart; a rollback to a version run earlier is applied like any
other.

A desired config is decoded through the contract and validated with the control plane's own
rules (:mod:`aios.agent.pipeline.desired`); refused -> ``rejected`` with the reason (the node
and field of an invalid pipeline, ``future_version`` for a newer major schema). A valid one
is built (models loaded) while the old pipeline keeps running; a build error (a missing model,
say) -> ``failed`` with the reason, and the old one stays. Then the new pipeline starts while
the old one still runs (make before break), and the old one stops only once the new one has
started; if it does not start, the old one simply carries on (``rolled_back``). The exception
is a USB camera used by both: a V4L2 device opens once, so the old pipeline stops first. A new
pipeline that crashes within the grace period is stopped and the last good one started again
(``rolled_back``); while it is watched, ``applying`` is reported. A pipeline that survives its
grace period becomes the last good one and is persisted (``applied``).

A pipeline that crashes later is restarted after an exponential backoff (1 s doubling to
30 s), reset once a restarted pipeline has run for ``grace_s`` without crashing.

Memory stays bounded however long the agent runs: the configs already handled are remembered
to ignore a redelivered one (the retained config after a reconnect), the last
:data:`REMEMBERED_CONFIGS` of them; and at most :data:`MAX_QUEUED_CONFIGS` payloads wait to be
applied (beyond, the oldest waiting is dropped: a newer desired config supersedes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aios.agent.errors import AgentError
from aios.agent.pipeline.desired import Refusal, read_desired
from aios.agent.pipeline.last_good import LastGoodStore
from aios.agent.pipeline.metrics import PipelineMetrics
from aios.agent.pipeline.runner import PipelineRunner
from aios.agent.recent import RecentSet
from aios.agent.transport.interface import Transport
from aios.shared.backoff import Backoff
from aios.shared.fields import ReportStatus
from aios.shared.messages import PipelineConfig, PipelineReport
from aios.shared.pipeline import PipelineSpec, SourceNode

log = logging.getLogger(__name__)

RunnerFactory = Callable[[PipelineSpec, str, int], PipelineRunner]
"""(spec, pipeline_id, version) -> an unbuilt runner."""

LOCAL_PIPELINE_ID = "local"

ConfigKey = tuple[str, int, str | None, float]
"""(pipeline id, version, deployment id, issued at): one publication of a desired config."""

REMEMBERED_CONFIGS = 64
"""How many handled configs (:data:`ConfigKey`) are remembered to ignore their redelivery."""

MAX_QUEUED_CONFIGS = 16
"""Desired configs waiting to be applied, at most."""


class PipelineSupervisor:
    def __init__(
        self,
        *,
        device_id: str,
        transport: Transport,
        make_runner: RunnerFactory,
        store: LastGoodStore,
        grace_s: float = 30.0,
        open_timeout_s: float = 15.0,
    ) -> None:
        self._device_id = device_id
        self._transport = transport
        self._make_runner = make_runner
        self._store = store
        self._grace_s = grace_s
        self._open_timeout_s = open_timeout_s
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(MAX_QUEUED_CONFIGS)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.current: PipelineRunner | None = None
        self._current_config: PipelineConfig | None = None
        self._last_good: PipelineConfig | None = None
        self._local: PipelineSpec | None = None
        self._seen: RecentSet[ConfigKey] = RecentSet(REMEMBERED_CONFIGS)
        self._restart_backoff = Backoff(initial=1.0, cap=30.0)
        self.dropped_configs = 0
        """Desired configs dropped unapplied because newer ones filled the queue."""
        self._started_at = 0.0
        self.ended = asyncio.Event()

    # -- what the heartbeat reads --------------------------------------------------------------
    def describe(self) -> tuple[str | None, int | None, PipelineMetrics | None]:
        runner = self.current
        if runner is None:
            return None, None, None
        return runner.ctx.pipeline_id, runner.ctx.pipeline_version, runner.ctx.metrics

    # -- startup -------------------------------------------------------------------------------
    async def start(self, local: PipelineSpec | None) -> None:
        """Start the persisted last good pipeline, else ``local`` (version 0)."""
        self._loop = asyncio.get_running_loop()
        self._transport.on_config(self._on_payload)
        saved = self._store.load()
        if saved is not None:
            log.info("starting last good pipeline %s v%d", saved.pipeline_id, saved.version)
            self._last_good = saved
            self._seen.add(_key(saved))
            await self._start_runner(saved.spec, saved.pipeline_id, saved.version)
            self._current_config = saved
        elif local is not None:
            self._local = local  # the rollback target until a remote config is applied
            await self._start_runner(local, LOCAL_PIPELINE_ID, 0)
        else:
            log.info("no pipeline yet: waiting for one from the control plane")

    async def _start_runner(self, spec: PipelineSpec, pipeline_id: str, version: int) -> None:
        runner = self._make_runner(spec, pipeline_id, version)
        await runner.start(open_timeout_s=self._open_timeout_s)
        self._started_at = time.monotonic()
        self.current = runner
        self.ended.clear()

    def _on_payload(self, payload: bytes) -> None:
        """Called from the transport's thread."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(self._enqueue, payload)

    def _enqueue(self, payload: bytes) -> None:
        if self._queue.full():  # nobody applies them (no config apply), or a burst of them
            self._queue.get_nowait()
            self.dropped_configs += 1
            log.warning("desired config queue full: the oldest waiting config is dropped")
        self._queue.put_nowait(payload)

    # -- main loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Apply desired configs and watch the current pipeline, until cancelled."""
        while True:
            get = asyncio.ensure_future(self._queue.get())
            watch = asyncio.ensure_future(self._watch())
            try:
                done, _ = await asyncio.wait({get, watch}, return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when run() itself is cancelled (the agent stops): no orphan task
                for task in (get, watch):
                    if not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
            if get in done:
                await self.apply(get.result())

    async def watch(self) -> None:
        """Watch the current pipeline (restart it if it crashes, set :attr:`ended` when every
        stream ends) without applying configs, until cancelled: :meth:`run` without
        ``cfg/desired``."""
        while True:
            await self._watch()

    async def _watch(self) -> None:
        """Returns when the current pipeline ends or crashes (after handling it)."""
        runner = self.current
        if runner is None:
            await asyncio.Event().wait()
            return
        try:
            await runner.wait()
        except Exception as exc:  # a node crashed: restart the same pipeline after a backoff
            if time.monotonic() - self._started_at >= self._grace_s:
                self._restart_backoff.reset()  # it had been running well
            delay = self._restart_backoff.next_delay()
            log.error(
                "pipeline %s v%d crashed: %s; restarting in %.1f s",
                runner.ctx.pipeline_id,
                runner.version,
                exc,
                delay,
            )
            await runner.stop()
            await asyncio.sleep(delay)
            if self.current is runner:
                await self._restart(runner)
            return
        if self.current is runner:
            log.info("pipeline %s v%d: every stream ended", runner.ctx.pipeline_id, runner.version)
            self.ended.set()
            await asyncio.Event().wait()

    async def _restart(self, runner: PipelineRunner) -> None:
        try:
            await self._start_runner(runner.spec, runner.ctx.pipeline_id, runner.version)
        except AgentError as exc:
            log.error("restart of pipeline v%d failed: %s", runner.version, exc)
            self.current = None

    async def apply(self, payload: bytes) -> PipelineReport | None:
        """Handle one ``cfg/desired`` payload; returns the report sent (``None``: ignored)."""
        desired = read_desired(payload)
        if desired is None:
            return None
        key = _key(desired)
        if key in self._seen:
            return None  # the retained config, redelivered after a reconnect
        self._seen.add(key)
        if isinstance(desired, Refusal):
            return self._report(
                desired,
                "rejected",
                error=desired.error,
                node=desired.node,
                field=desired.field,
            )
        running = self._current_config
        if (
            self.current is not None
            and running is not None
            and (running.pipeline_id, running.version) == (desired.pipeline_id, desired.version)
        ):  # versions are immutable: the same spec, already running
            return self._report(desired, "applied", active=desired.version)
        return await self._apply_valid(desired)

    async def _apply_valid(self, config: PipelineConfig) -> PipelineReport:
        new = self._make_runner(config.spec, config.pipeline_id, config.version)
        try:
            await asyncio.to_thread(new.build)
        except AgentError as exc:
            return self._report(config, "failed", error=str(exc))
        old = self.current
        if old is not None and shares_exclusive_camera(old.spec, config.spec):
            await old.stop()
            self.current = old = None
        try:
            await new.start(open_timeout_s=self._open_timeout_s)
        except AgentError as exc:
            if old is not None:  # never stopped: the last good pipeline is still the one running
                return self._report(config, "rolled_back", error=f"start failed: {exc}")
            return await self._roll_back(config, f"start failed: {exc}")
        if old is not None:
            await old.stop()
        self.current = new
        self._started_at = time.monotonic()
        self._restart_backoff.reset()
        self.ended.clear()
        self._current_config = config
        self._report(config, "applying", active=config.version)
        failure = await self._grace(new)
        if failure is not None:
            await new.stop()
            self.current = None
            return await self._roll_back(config, f"crashed within {self._grace_s:g} s: {failure}")
        self._last_good = config
        self._store.save(config)
        return self._report(config, "applied", active=config.version)

    async def _grace(self, runner: PipelineRunner) -> BaseException | None:
        deadline = time.monotonic() + self._grace_s
        while time.monotonic() < deadline:
            failure = runner.failure()
            if failure is not None:
                return failure
            await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return runner.failure()

    async def _roll_back(self, config: PipelineConfig, error: str) -> PipelineReport:
        """Start the last good pipeline again, else the local one (version 0)."""
        good = self._last_good
        if good is not None:
            spec, pipeline_id, version = good.spec, good.pipeline_id, good.version
        elif self._local is not None:
            spec, pipeline_id, version = self._local, LOCAL_PIPELINE_ID, 0
        else:
            return self._report(config, "failed", error=error)
        try:
            await self._start_runner(spec, pipeline_id, version)
        except AgentError as exc:
            return self._report(config, "failed", error=f"{error}; rollback failed too: {exc}")
        self._current_config = good
        return self._report(config, "rolled_back", error=error, active=version)

    def _report(
        self,
        answered: PipelineConfig | Refusal,
        status: ReportStatus,
        *,
        error: str | None = None,
        node: str | None = None,
        field: str | None = None,
        active: int | None = None,
    ) -> PipelineReport:
        if active is None and self.current is not None:
            active = self.current.version
        report = PipelineReport(
            device_id=self._device_id,
            pipeline_id=answered.pipeline_id,
            version=answered.version,
            status=status,
            ts=time.time(),
            error=error[:1000] if error else None,
            node=node,
            field=field,
            active_version=active,
            deployment_id=answered.deployment_id,
        )
        log.info(
            "pipeline %s v%d: %s%s",
            answered.pipeline_id,
            answered.version,
            status,
            f" ({error})" if error else "",
        )
        self._transport.send(report)
        return report

    async def stop(self) -> None:
        runner, self.current = self.current, None
        if runner is not None:
            await runner.stop()


def _key(config: PipelineConfig | Refusal) -> ConfigKey:
    issued_at = config.issued_at if isinstance(config, PipelineConfig) else 0.0
    return (config.pipeline_id, config.version, config.deployment_id, issued_at)


def shares_exclusive_camera(old: PipelineSpec, new: PipelineSpec) -> bool:
    """Whether both pipelines read a USB camera: a V4L2 device cannot be opened twice, so the
    old pipeline must stop before the new one opens it. (Conservative: any USB source in both.)
    """

    def usb(spec: PipelineSpec) -> bool:
        return any(isinstance(n, SourceNode) and n.params.kind == "usb" for n in spec.nodes)

    return usb(old) and usb(new)
