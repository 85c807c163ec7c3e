"""One agent as a Trio actor: heartbeat, blocking inbox wait, rounds (agent-loop.md §3).

The actor's nursery owns a heartbeat task (:mod:`~tinytown.runtime.upkeep`)
and the loop. The loop never polls: with nothing to do it blocks on the
agent's two queues (see :func:`~tinytown.runtime.delivery.wait_for_queued`),
on a *wake* from the runtime's control list, and on the idle-timeout deadline,
whichever comes first. A paused agent waits for a wake only. Rounds are in
:mod:`~tinytown.runtime.rounds`, the endings in :mod:`~tinytown.runtime.endings`.

Differences from the 0.10 loop, on purpose: no sleeps between rounds, a
round is logged only when there is work, a control state set during a round
(stopped, paused, draining) is never overwritten with ``idle``, the agent
ends in ``error`` (with the reason in its activity) when its model cannot be
started or fails ``max_failed_rounds`` times in a row, failed rounds are
retried after an exponential pause instead of at once, and a round that could
not start for lack of resources (too many open files) is retried without
counting as a failure.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import trio

from tinytown.errors import RedisError, ResponseError
from tinytown.models import Agent, AgentId, AgentState, Event, EventType, TaskId
from tinytown.redis.client import Redis, open_redis
from tinytown.runtime.agentlog import AgentLog, agent_log_path
from tinytown.runtime.context import RuntimeContext
from tinytown.runtime.delivery import Delivery, InFlight, wait_for_queued
from tinytown.runtime.endings import finish, on_shutdown
from tinytown.runtime.model import resolve_command
from tinytown.runtime.policy import ExitReason, exit_reason, failed_round_backoff
from tinytown.runtime.procfiles import reap_orphan_model
from tinytown.runtime.rounds import run_round
from tinytown.runtime.settings import BATCH_MAX, DEFAULT_MAX_ROUNDS
from tinytown.runtime.upkeep import heartbeat, idle_step
from tinytown.town import utcnow

__all__ = ["AgentActor", "RuntimeContext"]

log = logging.getLogger("tinytown.runtime")

CLEANUP_TIMEOUT_S = 10.0


class AgentActor:
    """The actor of one agent for one incarnation. Run it once with :meth:`run`."""

    def __init__(self, ctx: RuntimeContext, agent_id: AgentId) -> None:
        self.ctx = ctx
        self.agent_id = agent_id
        self.delivery = Delivery(ctx.town.redis, ctx.town.channel.keys, agent_id)
        self.name = str(agent_id)
        self.max_rounds = DEFAULT_MAX_ROUNDS
        self.log = AgentLog(Path(os.devnull))
        self.blocking: Redis | None = None
        self.inflight: InFlight | None = None
        self.started_task: TaskId | None = None
        self.round_scope: trio.CancelScope | None = None
        self.stalled: dict[TaskId, int] = {}  # rounds in a row without progress, per task
        self.failures = 0
        self.error_detail = ""
        self.exit_from: AgentState | None = None
        self.paused = False
        self.idle_logged = False
        self.superseded = False
        self.last_read = float("-inf")
        self._woken = False
        self._wake_event = trio.Event()

    # --- control -------------------------------------------------------------------------

    def wake(self) -> None:
        """Make the loop re-read its record now (cancels a blocking wait)."""
        self._woken = True
        self._wake_event.set()

    def supersede(self) -> None:
        """Another incarnation owns the agent: cancel the running round (killing its model)."""
        self.superseded = True
        if self.round_scope is not None:
            self.round_scope.cancel()
        self.wake()

    # --- life cycle -----------------------------------------------------------------------

    async def run(self) -> ExitReason:
        """Run until the agent stops; returns why. Raises on a crash (the supervisor restarts).

        A cancellation while the runtime shuts down puts the in-flight batch
        back into the agent's queues and applies the shutdown mode first.
        """
        agent, _ = await self.delivery.read()
        if agent is None:
            return ExitReason.GONE
        if agent.state.is_terminal:
            log.info("not starting %s: it is %s", agent.name, agent.state.label)
            return ExitReason.ALREADY_TERMINAL
        if not await self.delivery.claim(self.ctx.host, utcnow()):
            return ExitReason.GONE
        self.name = agent.name
        self.max_rounds = agent.max_rounds if agent.max_rounds is not None else DEFAULT_MAX_ROUNDS
        self.log = AgentLog(agent_log_path(self.ctx.root, self.agent_id), self.ctx.echo)
        try:
            self._log_start(agent)
            await reap_orphan_model(self.ctx.root, self.agent_id, self.ctx.settings.kill_grace_s)
            reason = await self._run_loop()
            await finish(self, reason)
            return reason
        except BaseException:
            if self.ctx.shutting_down:
                with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT_S):
                    await on_shutdown(self)
            raise

    async def _run_loop(self) -> ExitReason:
        settings = self.ctx.town.redis.settings
        async with open_redis(settings, max_connections=2) as blocking:
            self.blocking = blocking
            async with trio.open_nursery() as nursery:
                nursery.start_soon(heartbeat, self)
                reason = await self._loop()
                nursery.cancel_scope.cancel()
        return reason

    def _log_start(self, agent: Agent) -> None:
        cfg = self.ctx.config()
        name = cfg.resolve_cli_name(agent.cli or cfg.default_cli)
        command = resolve_command(cfg, agent.cli or cfg.default_cli, self.ctx.python)
        self.log.line(f"🔄 Agent '{self.name}' starting loop (max {self.max_rounds} rounds)")
        self.log.line(f"   CLI: {name} ({command})")
        timeout = cfg.agent.idle_timeout_s
        self.log.line(f"   Idle timeout: {f'{timeout}s' if timeout else 'none (waits for work)'}")
        if self.delivery.incarnation > 1:
            self.log.line(f"   Incarnation {self.delivery.incarnation} on {self.ctx.host}")

    # --- the loop ------------------------------------------------------------------------

    async def _loop(self) -> ExitReason:
        settings = self.ctx.settings
        while True:
            self._woken = False
            agent, stop = await self.delivery.read()
            self.last_read = trio.current_time()
            if agent is None:
                return ExitReason.GONE
            if self.superseded or agent.incarnation != self.delivery.incarnation:
                return ExitReason.SUPERSEDED
            if agent.max_rounds is not None:
                self.max_rounds = agent.max_rounds
            reason = exit_reason(agent.state, stop, agent.rounds_completed, self.max_rounds)
            if reason is not None:
                self.exit_from = agent.state
                if reason is ExitReason.STOP_REQUESTED:
                    self.log.line("   🛑 Stop requested, exiting gracefully...")
                    r = agent.rounds_completed + 1
                    await self.activity(f"Round {r}: 🛑 stopped by request")
                    await self.delivery.clear_stop()
                return reason
            if agent.state is AgentState.PAUSED:
                if not self.paused:
                    self.log.line("   ⏸️ Agent is paused. Waiting for resume...")
                self.paused = True
                await self._wait(None, queues=False)
                continue
            self.paused = False
            batch = await self.delivery.take_batch(BATCH_MAX)
            if batch is None:
                return ExitReason.SUPERSEDED
            if batch.empty:
                deadline = await idle_step(self, agent)
                if isinstance(deadline, ExitReason):
                    return deadline
                await self._wait(deadline, queues=True)
                continue
            self.idle_logged = False
            self.inflight = batch
            result = await run_round(self, agent, batch)
            self.inflight = None
            if result.exit is not None:
                self.error_detail = result.detail
                return result.exit
            if not result.failed:
                if result.ran_model:
                    self.failures = 0
                continue
            if not result.temporary:
                self.failures += 1
            if self.failures >= settings.max_failed_rounds:
                self.error_detail = (
                    f"model CLI failed {self.failures} rounds in a row ({result.detail})"
                )
                return ExitReason.TOO_MANY_FAILURES
            delay = failed_round_backoff(
                max(self.failures, 1), settings.failed_round_backoff_s,
                settings.failed_round_backoff_max_s,
            )
            self.log.line(f"   ⏳ Retrying in {delay:g}s")
            await self._wait(trio.current_time() + delay, queues=False)

    async def _wait(self, deadline: float | None, *, queues: bool) -> None:
        """Block until a message is queued (if ``queues``), a wake, or ``deadline``."""
        if self._woken:
            return
        self._wake_event = trio.Event()
        blocking = self.blocking
        with trio.CancelScope(deadline=float("inf") if deadline is None else deadline):
            async with trio.open_nursery() as nursery:
                if queues and blocking is not None:
                    nursery.start_soon(self._wait_queues, blocking, nursery.cancel_scope)
                nursery.start_soon(self._wait_wake, nursery.cancel_scope)

    async def _wait_queues(self, blocking: Redis, scope: trio.CancelScope) -> None:
        await wait_for_queued(blocking, self.ctx.town.channel.keys, self.agent_id)
        scope.cancel()

    async def _wait_wake(self, scope: trio.CancelScope) -> None:
        await self._wake_event.wait()
        scope.cancel()

    # --- helpers -------------------------------------------------------------------------

    async def activity(self, line: str) -> None:
        """Best effort: a corrupt activity key (wrong type) is logged, not fatal to the agent."""
        try:
            await self.ctx.town.channel.log_activity(self.agent_id, line)
        except ResponseError as exc:
            log.warning("%s: could not record activity: %s", self.name, exc)

    async def emit(
        self, kind: EventType, message: str, old: AgentState | None, new: AgentState | None
    ) -> None:
        """Best effort: an event that cannot be written is only logged."""
        event = Event(
            event_type=kind,
            message=message,
            timestamp=utcnow(),
            agent_id=self.agent_id,
            old_state=old.label if old is not None else None,
            new_state=new.label if new is not None else None,
        )
        try:
            await self.ctx.town.channel.emit(event)
        except RedisError as exc:
            log.warning("could not record %s event: %s", kind.value, exc)
