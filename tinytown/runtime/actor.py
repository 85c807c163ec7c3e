"""One agent as a Trio actor: heartbeat, blocking inbox wait, rounds (agent-loop.md §3).

The actor's nursery owns a heartbeat task and the loop. The loop never
polls: with nothing to do it blocks on the agent's two queues (see
:func:`~tinytown.runtime.delivery.wait_for_queued`), on a *wake* from the
runtime's control list, and on the idle-timeout deadline, whichever comes
first. A paused agent waits for a wake only. The heartbeat refreshes
``last_heartbeat`` every ``heartbeat_s`` (during model runs too, which is how
``tt recover`` tells a dead runtime from a long round; a failed beat is
logged and retried, never fatal to the round) and wakes the loop
when it sees a stop flag, a pause ending, or a newer incarnation, so control
commands that do not send a wake still take effect within one heartbeat.

Differences from the 0.10 loop, on purpose: no sleeps between rounds, a
round is logged only when there is work, a control state set during a round
(stopped, paused, draining) is never overwritten with ``idle``, the agent
ends in ``error`` (with the reason in its activity) when its model cannot be
started or fails ``max_failed_rounds`` times in a row, and failed rounds are
retried after an exponential pause instead of at once.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs
import trio

from tinytown.config import TownConfig, load_town_config, town_config_path
from tinytown.errors import RedisError, ResponseError, TinytownError
from tinytown.models import Agent, AgentId, AgentState, Event, EventType, TaskId
from tinytown.redis.client import Redis, open_redis
from tinytown.runtime.agentlog import AgentLog, agent_log_path
from tinytown.runtime.delivery import Delivery, InFlight, wait_for_queued
from tinytown.runtime.model import resolve_command
from tinytown.runtime.policy import (
    IDLE_TIMEOUT_ACTIVITY_PREFIX,
    ExitReason,
    exit_reason,
    failed_round_backoff,
    idle_deadline,
    idle_timed_out,
)
from tinytown.runtime.procfiles import reap_orphan_model
from tinytown.runtime.rounds import revert_started_task, run_round
from tinytown.runtime.settings import (
    BATCH_MAX,
    DEFAULT_MAX_ROUNDS,
    RuntimeSettings,
    ShutdownMode,
)
from tinytown.town import Town, utcnow

log = logging.getLogger("tinytown.runtime")

CLEANUP_TIMEOUT_S = 10.0
_LIVE = (AgentState.STARTING, AgentState.IDLE, AgentState.WORKING, AgentState.PAUSED,
         AgentState.DRAINING)


@attrs.define
class RuntimeContext:
    """What every actor of one runtime shares.

    Attributes:
        town: the connected town (its client is shared by all actors).
        host: this runtime's identity (written to each hosted agent's ``host``).
        settings: timings and limits.
        env: the base environment of model processes.
        echo: where a foreground runtime prints agent log lines.
        shutdown_mode: what a shutdown does to agents: ``"stop"`` marks them
            Stopped, ``"suspend"`` leaves them to be resumed by the next runtime.
        shutting_down: set before the runtime cancels its actors.
    """

    town: Town
    host: str
    settings: RuntimeSettings = attrs.field(factory=RuntimeSettings)
    env: Mapping[str, str] = attrs.field(factory=lambda: dict(os.environ))
    echo: Callable[[str], None] | None = None
    shutdown_mode: ShutdownMode = ShutdownMode.SUSPEND
    shutting_down: bool = False
    python: str = sys.executable
    _config: TownConfig | None = None
    _config_mtime: int = -1

    @property
    def root(self) -> Path:
        return self.town.root

    def config(self) -> TownConfig:
        """The town config, re-read when ``tinytown.toml`` changed (new presets apply at once)."""
        path = town_config_path(self.root)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return self._config or self.town.config
        if self._config is None or mtime != self._config_mtime:
            try:
                self._config = load_town_config(self.root)
                self._config_mtime = mtime
            except TinytownError as exc:
                log.warning("keeping the previous config: %s", exc)
                return self._config or self.town.config
        return self._config


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
        self.failures = 0
        self.error_detail = ""
        self._exit_from: AgentState | None = None
        self._woken = False
        self._wake_event = trio.Event()
        self._paused = False
        self._idle_logged = False
        self.last_read = float("-inf")

    # --- control -------------------------------------------------------------------------

    def wake(self) -> None:
        """Make the loop re-read its record now (cancels a blocking wait)."""
        self._woken = True
        self._wake_event.set()

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
        self.log = AgentLog(agent_log_path(self.ctx.root, self.name), self.ctx.echo)
        try:
            self._log_start(agent)
            await reap_orphan_model(self.ctx.root, self.agent_id, self.ctx.settings.kill_grace_s)
            reason = await self._run_loop()
            await self._finish(reason)
            return reason
        except BaseException:
            if self.ctx.shutting_down:
                with trio.CancelScope(shield=True), trio.move_on_after(CLEANUP_TIMEOUT_S):
                    await self._on_shutdown()
            raise
        finally:
            self.log.close()

    async def _run_loop(self) -> ExitReason:
        settings = self.ctx.town.redis.settings
        async with open_redis(settings, max_connections=3) as blocking:
            self.blocking = blocking
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._heartbeat)
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
            if agent.incarnation > self.delivery.incarnation:
                return ExitReason.SUPERSEDED
            if agent.max_rounds is not None:
                self.max_rounds = agent.max_rounds
            reason = exit_reason(agent.state, stop, agent.rounds_completed, self.max_rounds)
            if reason is not None:
                self._exit_from = agent.state
                if reason is ExitReason.STOP_REQUESTED:
                    self.log.line("   🛑 Stop requested, exiting gracefully...")
                    r = agent.rounds_completed + 1
                    await self.activity(f"Round {r}: 🛑 stopped by request")
                    await self.delivery.clear_stop()
                return reason
            if agent.state is AgentState.PAUSED:
                if not self._paused:
                    self.log.line("   ⏸️ Agent is paused. Waiting for resume...")
                self._paused = True
                await self._wait(None, queues=False)
                continue
            self._paused = False
            batch = await self.delivery.take_batch(BATCH_MAX)
            if batch is None:
                return ExitReason.SUPERSEDED
            if batch.empty:
                deadline = await self._idle(agent)
                if isinstance(deadline, ExitReason):
                    return deadline
                await self._wait(deadline, queues=True)
                continue
            self._idle_logged = False
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
            self.failures += 1
            if self.failures >= settings.max_failed_rounds:
                self.error_detail = (
                    f"model CLI failed {self.failures} rounds in a row ({result.detail})"
                )
                return ExitReason.TOO_MANY_FAILURES
            delay = failed_round_backoff(
                self.failures, settings.failed_round_backoff_s, settings.failed_round_backoff_max_s
            )
            self.log.line(f"   ⏳ Retrying in {delay:g}s")
            await self._wait(trio.current_time() + delay, queues=False)

    async def _idle(self, agent: Agent) -> float | ExitReason | None:
        """Idle bookkeeping (§3.2 step 6); the trio deadline to wait until, or the exit."""
        now = utcnow()
        current = agent.current_task
        if current is not None:
            task = await self.ctx.town.channel.get_task(current)
            if task is None or task.is_terminal:
                await self.delivery.update(current_task=None)
                current = None
        became_idle = agent.state not in (AgentState.PAUSED, AgentState.IDLE)
        last_active = now if became_idle else agent.last_active_at
        fields: dict[str, object] = {"last_heartbeat": now}
        if became_idle:
            fields["last_active_at"] = now
        applied = await self.delivery.update(
            AgentState.IDLE, only_from=(AgentState.STARTING, AgentState.WORKING, AgentState.IDLE),
            **fields,
        )
        if applied is None:
            return ExitReason.SUPERSEDED
        if agent.state is AgentState.STARTING and applied:
            await self.emit(EventType.AGENT_STATE_CHANGED, "Agent ready", agent.state,
                            AgentState.IDLE)
        timeout = self.ctx.config().agent.idle_timeout_s
        if idle_timed_out(last_active, now, timeout, current is not None):
            self.log.line(f"   🔻 Idle timeout reached after {timeout}s, draining and stopping...")
            await self.delivery.update(AgentState.DRAINING, only_from=(AgentState.IDLE,))
            await self.activity(
                f"{IDLE_TIMEOUT_ACTIVITY_PREFIX} after {timeout}s; draining and stopping")
            self._exit_from = AgentState.DRAINING
            return ExitReason.IDLE_TIMEOUT
        if not self._idle_logged:
            self.log.line("   📭 Inbox empty, waiting...")
            self._idle_logged = True
        deadline = idle_deadline(last_active, now, timeout, current is not None)
        if deadline is None:
            return None
        return trio.current_time() + max((deadline - now).total_seconds(), 0.0)

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

    async def _heartbeat(self) -> None:
        while True:
            await trio.sleep(self.ctx.settings.heartbeat_s)
            try:
                beat = await self.delivery.beat(utcnow())
            except RedisError as exc:  # a Redis hiccup must not kill a long model run
                log.warning("%s: heartbeat failed (%s); retrying", self.name, exc)
                continue
            if beat is None or beat.stop or beat.incarnation > self.delivery.incarnation:
                self.wake()
                continue
            paused = beat.state == AgentState.PAUSED.value
            terminal = beat.state in (s.value for s in AgentState if s.is_terminal)
            if terminal or paused != self._paused:
                self.wake()

    # --- endings -------------------------------------------------------------------------

    async def _finish(self, reason: ExitReason) -> None:
        """Write the final state (only over the state the decision was based on) and log."""
        final = reason.final_state
        if final is None:
            log.info("%s: %s", self.name, reason.value)
            return
        now = utcnow()
        only_from = _LIVE if final is AgentState.ERROR else (self._exit_from or AgentState.IDLE,)
        applied = await self.delivery.update(final, only_from=only_from, last_heartbeat=now)
        agent, _ = await self.delivery.read()
        if final is AgentState.ERROR:
            self.log.line(f"❌ Agent '{self.name}' failed: {self.error_detail}")
            await self.activity(f"❌ Error: {self.error_detail}")
            await self.emit(EventType.AGENT_FAILED, f"Agent failed: {self.error_detail}",
                            self._exit_from, AgentState.ERROR)
        elif agent is not None:
            self.log.line(
                f"🏁 Agent '{self.name}' finished: {agent.rounds_completed} rounds, "
                f"{agent.tasks_completed} tasks"
            )
            if applied:
                await self.emit(EventType.AGENT_STOPPED, f"Agent stopped: {reason.value}",
                                self._exit_from, AgentState.STOPPED)
        else:
            self.log.line(f"🏁 Agent '{self.name}' finished after {self.max_rounds} rounds")

    async def _on_shutdown(self) -> None:
        """Runtime shutdown: return the in-flight batch to the queues, then stop or suspend."""
        batch = self.inflight
        if batch is not None and not batch.empty:
            await revert_started_task(self)
            done = await self.delivery.settle(
                batch.raw, batch.urgent_raw, batch.normal_raw, count_round=False
            )
            if done is not None:
                self.log.line(f"   ↩️ Returned {len(batch.raw)} in-flight message(s) to the queues")
        now = utcnow()
        if self.ctx.shutdown_mode is ShutdownMode.STOP:
            applied = await self.delivery.update(
                AgentState.STOPPED, only_from=_LIVE, last_heartbeat=now
            )
            if applied:
                self.log.line(f"🛑 Agent '{self.name}' stopped: runtime shut down")
                await self.activity("🛑 Stopped: runtime shut down")
                await self.emit(EventType.AGENT_STOPPED, "Agent stopped: runtime shut down",
                                None, AgentState.STOPPED)
        else:
            await self.delivery.update(
                AgentState.IDLE, only_from=(AgentState.WORKING,), last_heartbeat=now
            )
            self.log.line(f"💤 Agent '{self.name}' suspended: runtime shut down (will resume)")

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
