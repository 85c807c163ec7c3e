"""The runtime process of one town on one host (architecture decision 6).

It hosts every local agent as an actor under a :class:`Supervisor`, keeps a
liveness key (``Keys.runtime(host)``: its pid, with a TTL, refreshed) and a
pid file, and reads JSON commands from its control list with ``BLPOP``:

* ``{"op": "start", "agent_id": ...}`` — start that agent's actor (idempotent);
* ``{"op": "wake", "agent_id": ...}`` — make the actor re-read its record now;
* ``{"op": "shutdown", "mode": "stop" | "suspend"}`` — shut down (see below).

At start it resumes every agent whose ``host`` is this runtime's and whose
state is not terminal. Unless told to stay, it exits once it hosts no agent
(after a short grace; the exit re-checks the records after dropping its
liveness key, so an agent registered concurrently is either seen here or
starts a new runtime).

Shutdown modes. **stop** (Ctrl+C, ``SIGINT``) — the user stops the town's
agents: running model processes are killed (process group), in-flight
messages go back to the head of their queues, running tasks back to
``assigned``, and every agent is marked Stopped (``tt restart`` revives
them). **suspend** (``SIGTERM``: a reboot, a service manager) — the same
clean-up, but agents keep their state and the next runtime resumes them. A
crash or ``SIGKILL`` cleans nothing: messages stay in the processing lists
and the next runtime handles them first; nothing is lost.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

import trio

from tinytown.errors import AgentNotFoundError, InvalidStateError, RedisError, TinytownError
from tinytown.models import AgentId, AgentState, EventType
from tinytown.procwait import pid_alive
from tinytown.redis.client import open_redis
from tinytown.runtime.actor import AgentActor
from tinytown.runtime.agentlog import AgentLog, agent_log_path
from tinytown.runtime.capacity import capacity_for, local_capacity, raise_fd_limit
from tinytown.runtime.companion import run_companion
from tinytown.runtime.containment import end_orphans
from tinytown.runtime.context import RuntimeContext
from tinytown.runtime.endings import LIVE
from tinytown.runtime.procfiles import remove_pid, runtime_pidfile, write_pid
from tinytown.runtime.redis_watch import RedisWatch
from tinytown.runtime.settings import RuntimeSettings, ShutdownMode
from tinytown.runtime.supervisor import Supervisor, describe
from tinytown.scripts import CLAIM_LIVENESS, RELEASE_LIVENESS
from tinytown.services._agent_state import emit_event, transition
from tinytown.town import Town, utcnow

log = logging.getLogger("tinytown.runtime")

CONTROL_RETRY_S = 1.0

class Runtime:
    """One runtime: the supervisor, the liveness key, the control list.

    Args:
        ctx: the shared context (town, host id, settings).
        only: host only these agents (a foreground runtime); empty: every agent of the host.
        stay: keep running with no agents (``tt start`` in the foreground).
        pidfile: write ``.tt/runtime.pid`` (the host's background runtime).
    """

    def __init__(self, ctx: RuntimeContext, *, only: Sequence[AgentId] = (), stay: bool = False,
                 pidfile: bool = True) -> None:
        self.ctx = ctx
        self.only = tuple(only)
        self.stay = stay
        self.pidfile = pidfile
        self.pid = os.getpid()
        self.watch = RedisWatch(ctx.town, self._on_town_lost)
        self.lost: str | None = None
        self.supervisor = Supervisor(self._make_actor, self._give_up, ctx.settings,
                                     on_idle=self._on_idle, wait_redis=self.watch.wait_up)
        self.stopped_mode: ShutdownMode | None = None
        self._nursery: trio.Nursery | None = None
        self._emptied = trio.Event()
        keys = ctx.town.channel.keys
        self.capacity = local_capacity()
        self._capacity_key = keys.capacity(ctx.host)
        self._live_key = keys.runtime(ctx.host)
        self._control_key = keys.runtime_control(ctx.host)

    # --- public -------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Run until :meth:`shutdown` (or, unless ``stay``, until no agent is left).

        Raises:
            InvalidStateError: another live runtime already serves this host.
        """
        self.capacity = capacity_for(raise_fd_limit())
        await self._claim()
        await self.ctx.town.redis.execute("SET", self._capacity_key, self.capacity)
        if not self.only:  # a SIGKILLed runtime's model processes must not work on
            ended = await end_orphans(self.ctx.root, self.ctx.settings.kill_grace_s)
            if ended:
                log.info("ended %d model process(es) left by a dead runtime", len(ended))
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await nursery.start(self.supervisor.run)
                await nursery.start(self.watch.run)
                nursery.start_soon(self._keep_alive)
                nursery.start_soon(self._read_control)
                nursery.start_soon(self._dispatch_missions)
                await self._resume()
                if not self.stay:
                    nursery.start_soon(self._exit_when_empty)
                task_status.started(self)
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self._release()

    def shutdown(self, mode: ShutdownMode = ShutdownMode.SUSPEND) -> None:
        """Stop every actor (``mode``: ``stop`` or ``suspend``, see the module) and exit."""
        mode = ShutdownMode(mode)
        if self.stopped_mode is None:
            self.stopped_mode = mode
            log.info("shutting down (%s)", mode)
        self.ctx.shutdown_mode = mode
        self.ctx.shutting_down = True
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def _on_town_lost(self, message: str) -> None:
        """The town's Redis came back empty: say so and end, serving nothing."""
        self.lost = message
        self.shutdown(ShutdownMode.SUSPEND)

    @property
    def hosted(self) -> frozenset[AgentId]:
        return self.supervisor.running

    async def _dispatch_missions(self) -> None:
        """The mission dispatcher loop (missions.md §7): no daemon of its own to start.

        Several runtimes (hosts) of one town may all run it; per-mission leases keep
        each mission's tick to one of them at a time.
        """
        from tinytown.mission.dispatcher import Dispatcher
        from tinytown.mission.github import GhCli

        town = self.ctx.town
        dispatcher = Dispatcher(town, GhCli(town.root), utcnow)
        await dispatcher.run(interval_s=self.ctx.settings.mission_dispatch_s)

    # --- liveness -------------------------------------------------------------------------

    async def _claim(self) -> None:
        ttl_ms = int(self.ctx.settings.liveness_ttl_s * 1000)
        redis = self.ctx.town.redis
        holder = await self._hold()
        if holder != str(self.pid):
            other = int(holder) if holder.isdigit() else 0
            if pid_alive(other) and other != self.pid:
                raise InvalidStateError(
                    f"The town's runtime is already running on {self.ctx.host} (pid {other})"
                )
            log.info("taking over from dead runtime pid %s", holder)
            winner = str(
                await CLAIM_LIVENESS(redis, [self._live_key], [holder, str(self.pid), ttl_ms])
            )
            if winner != str(self.pid):
                raise InvalidStateError(
                    f"Another runtime (pid {winner}) took over the town on {self.ctx.host} first"
                )
        if self.pidfile:
            write_pid(runtime_pidfile(self.ctx.root), self.pid)
        log.info("runtime %s serving town %s as %s", self.pid, self.ctx.town.name, self.ctx.host)

    async def _hold(self) -> str:
        """Set or refresh the liveness key if free or ours; the holder's pid as it is now."""
        ttl_ms = int(self.ctx.settings.liveness_ttl_s * 1000)
        pid = str(self.pid)
        return str(await CLAIM_LIVENESS(self.ctx.town.redis, [self._live_key], [pid, pid, ttl_ms]))

    async def _claim_quietly(self) -> None:
        try:
            await self._claim()
        except RedisError as exc:
            log.warning("could not re-claim the liveness key: %s", exc)

    async def _keep_alive(self) -> None:
        while True:
            await trio.sleep(self.ctx.settings.liveness_refresh_s)
            try:
                holder = await self._hold()
            except RedisError as exc:  # a Redis hiccup must not end the runtime
                log.warning("could not refresh the liveness key: %s", exc)
                continue
            if str(holder) != str(self.pid):
                log.warning("liveness key held by pid %s, not us", holder)

    async def _release(self) -> None:
        try:
            if await RELEASE_LIVENESS(self.ctx.town.redis, [self._live_key], [str(self.pid)]):
                await self.ctx.town.redis.execute("DEL", self._capacity_key)
        except RedisError as exc:
            log.warning("could not release the liveness key: %s", exc)
        if self.pidfile:
            remove_pid(runtime_pidfile(self.ctx.root), self.pid)

    # --- agents ---------------------------------------------------------------------------

    def _make_actor(self, agent_id: AgentId) -> AgentActor:
        return AgentActor(self.ctx, agent_id)

    def _start(self, agent_id: AgentId) -> bool:
        """Start an actor, unless that would take the runtime past its open-file capacity."""
        if agent_id in self.supervisor.running or len(self.supervisor) < self.capacity:
            return self.supervisor.start(agent_id)
        log.warning("not starting %s: at capacity (%d agents)", agent_id, self.capacity)
        if self._nursery is not None:
            self._nursery.start_soon(self._refuse, agent_id)
        return False

    async def _refuse(self, agent_id: AgentId) -> None:
        """An agent this runtime cannot host is Stopped with the reason (never Error)."""
        reason = (f"🚫 Not started: the runtime on {self.ctx.host} is at capacity "
                  f"({self.capacity} agents for its open-file limit)")
        try:
            agent = await self.ctx.town.channel.get_agent(agent_id)
            if agent is None:
                return
            await transition(self.ctx.town, agent, AgentState.STOPPED, allowed=frozenset(LIVE),
                             stop_flag="keep", activity=reason, refusal="is already {state}")
        except TinytownError as exc:  # removed or stopped meanwhile, Redis trouble
            log.warning("could not mark %s as refused: %s", agent_id, exc)
            return
        log.info("%s marked Stopped: at capacity", agent_id)

    async def _resume(self) -> int:
        """Start the actors this runtime should host; returns how many were started."""
        n = sum(self._start(aid) for aid in await self._to_host())
        if n and not self.only:
            log.info("resumed %d agent(s)", n)
        return n

    async def _to_host(self) -> list[AgentId]:
        """The agents of this runtime: its ``only`` list, else the host's live agents."""
        if self.only:
            return list(self.only)
        return [a.id for a in await self.ctx.town.channel.list_agents()
                if a.host == self.ctx.host and not a.state.is_terminal]

    async def _give_up(self, agent_id: AgentId, exc: BaseException) -> None:
        s = self.ctx.settings
        reason = f"actor crashed {s.restart_budget + 1} times: {describe(exc)}"
        town = self.ctx.town
        agent = await town.channel.get_agent(agent_id)
        if agent is None or agent.host != self.ctx.host:
            return  # gone, or taken over by another host's runtime
        try:  # state and reason in one script, only over a live state (a stop or kill wins)
            previous = await transition(town, agent, AgentState.ERROR, allowed=frozenset(LIVE),
                                        stop_flag="keep", activity=f"❌ Error: {reason}")
        except (InvalidStateError, AgentNotFoundError):
            return  # already stopped, or removed since the read
        log_file = AgentLog(agent_log_path(self.ctx.root, agent.id), self.ctx.echo)
        log_file.line(f"❌ Agent '{agent.name}' failed: {reason}")
        log_file.close()
        await emit_event(town, EventType.AGENT_FAILED, f"Agent failed: {reason}", agent_id,
                         previous, AgentState.ERROR)

    # --- exit when empty ------------------------------------------------------------------

    def _on_idle(self) -> None:
        self._emptied.set()

    async def _exit_when_empty(self) -> None:
        while True:
            self._emptied = trio.Event()
            if len(self.supervisor):
                await self._emptied.wait()
                continue
            await trio.sleep(self.ctx.settings.exit_grace_s)
            if len(self.supervisor):
                continue
            if self.only:
                self.shutdown(ShutdownMode.EXIT)
                return
            try:
                await RELEASE_LIVENESS(self.ctx.town.redis, [self._live_key], [str(self.pid)])
                pending = [a for a in await self._to_host() if a not in self.supervisor.running]
                if pending:
                    # Registered meanwhile: host them, unless a new runtime already took over.
                    holder = await self._hold()
                    if str(holder) == str(self.pid):
                        await self._resume()
                        continue
            except RedisError as exc:
                log.warning("cannot check for new agents (%s); staying up", exc)
                await self._claim_quietly()
                await trio.sleep(CONTROL_RETRY_S)
                continue
            log.info("no agents left: exiting")
            self.shutdown(ShutdownMode.EXIT)
            return

    # --- control list ---------------------------------------------------------------------

    async def _read_control(self) -> None:
        while True:
            try:
                async with open_redis(self.ctx.town.redis.settings, max_connections=1) as blocking:
                    while True:
                        reply = await blocking.execute("BLPOP", self._control_key, 0)
                        if reply:
                            self.handle_command(str(reply[1]))
            except RedisError as exc:  # reconnect after a pause instead of dying
                log.warning("control list unavailable (%s); retrying", exc)
                await trio.sleep(CONTROL_RETRY_S)

    def handle_command(self, payload: str) -> None:
        """Apply one control command (JSON); bad ones are logged and ignored."""
        try:
            command = json.loads(payload)
            op = command["op"]
            agent_id = AgentId.parse(command["agent_id"]) if "agent_id" in command else None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring bad control command %r: %s", payload, exc)
            return
        if op == "start" and agent_id is not None:
            if self.only and agent_id not in self.only:
                log.warning("ignoring start of %s: this runtime hosts only its own", agent_id)
                return
            self._start(agent_id)
        elif op == "wake" and agent_id is not None:
            self.supervisor.wake(agent_id)
        elif op == "shutdown":
            wanted = command.get("mode")
            stop = wanted == ShutdownMode.STOP
            self.shutdown(ShutdownMode.STOP if stop else ShutdownMode.SUSPEND)
        else:
            log.warning("ignoring unknown control command %r", payload)


async def _watch_signals(runtime: Runtime, on_signal: Callable[[str], None] | None) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            mode = ShutdownMode.STOP if signum == signal.SIGINT else ShutdownMode.SUSPEND
            if on_signal is not None:
                on_signal(mode)
            runtime.shutdown(mode)


async def serve_runtime(
    root: Path,
    *,
    host: str,
    only: Sequence[AgentId] = (),
    stay: bool = False,
    pidfile: bool = True,
    echo: Callable[[str], None] | None = None,
    settings: RuntimeSettings | None = None,
    handle_signals: bool = True,
    on_ready: Callable[[Runtime], None] | None = None,
    on_signal: Callable[[str], None] | None = None,
    companion: Sequence[str] = (),
) -> Runtime:
    """Connect to the town at ``root`` and run its runtime until it ends; returns it.

    ``SIGINT`` stops the agents, ``SIGTERM`` suspends them (``handle_signals``).
    ``companion``: a command run alongside for the runtime's lifetime (the command server).
    """
    async with Town.connect(root) as town:
        ctx = RuntimeContext(town, host, settings or RuntimeSettings.from_env(), echo=echo)
        runtime = Runtime(ctx, only=only, stay=stay, pidfile=pidfile)
        async with trio.open_nursery() as nursery:

            async def run_then_end(
                task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED,
            ) -> None:
                try:
                    await runtime.run(task_status=task_status)
                finally:
                    nursery.cancel_scope.cancel()

            if handle_signals:
                nursery.start_soon(_watch_signals, runtime, on_signal)
            if companion:
                nursery.start_soon(run_companion, companion)
            await nursery.start(run_then_end)
            if on_ready is not None:
                on_ready(runtime)
        return runtime
