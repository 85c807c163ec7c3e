"""The supervisor: one nursery hosting every actor of a runtime, restarting crashed ones.

Each actor runs in its own supervising task. An actor that returns has
ended normally (its agent stopped). One that raises is restarted after the
delay of a :class:`~tinytown.runtime.policy.RestartPolicy`, as a new actor
(a new incarnation); a crash for want of open files is temporary (restarted
after a pause, never counted); when the restart budget is spent the supervisor calls
``on_give_up`` (the runtime marks the agent Error with the reason) and
forgets it. A crash is caught per actor, so it never disturbs another;
cancellation (``trio.Cancelled``, possibly inside exception groups) is never
swallowed.

``start`` of an agent whose actor is running wakes that actor and remembers
when: if the actor ends without having read its record since (it was on its
way out), a fresh one is started, so a ``tt restart`` racing with the end of
the old actor is not lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import trio

from tinytown.errors import ConnectionLostError, RedisUnavailableError
from tinytown.models import AgentId
from tinytown.runtime.capacity import out_of_files
from tinytown.runtime.policy import RestartPolicy
from tinytown.runtime.settings import RuntimeSettings

log = logging.getLogger("tinytown.runtime")


class Actor(Protocol):
    last_read: float
    """Trio time at which the actor last read its agent record."""

    async def run(self) -> object: ...

    def wake(self) -> None: ...


ActorFactory = Callable[[AgentId], Actor]
GiveUp = Callable[[AgentId, BaseException], Awaitable[None]]


def is_connection_loss(exc: BaseException) -> bool:
    """Whether ``exc`` (or the first leaf of an exception group) is a lost Redis connection."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return isinstance(exc, ConnectionLostError | RedisUnavailableError)


def describe(exc: BaseException) -> str:
    """A one-line reason for a crash (the first leaf of an exception group)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Supervisor:
    """Hosts actors under one nursery; use ``await nursery.start(supervisor.run)``.

    Args:
        make_actor: builds a fresh actor for an agent (called for each (re)start).
        on_give_up: called when an agent's restart budget is spent.
        settings: the restart policy's parameters.
        on_idle: called whenever the number of running actors drops to zero.
        wait_redis: returns once the town's Redis answers; an actor that crashed
            because the connection was lost waits for it instead of counting a crash.
    """

    def __init__(
        self,
        make_actor: ActorFactory,
        on_give_up: GiveUp,
        settings: RuntimeSettings,
        on_idle: Callable[[], None] | None = None,
        wait_redis: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._wait_redis = wait_redis
        self._make_actor = make_actor
        self._on_give_up = on_give_up
        self._settings = settings
        self._on_idle = on_idle
        self._nursery: trio.Nursery | None = None
        self._actors: dict[AgentId, Actor | None] = {}
        self._again: dict[AgentId, float] = {}

    @property
    def running(self) -> frozenset[AgentId]:
        """Agents with a live supervising task (running, or waiting to be restarted)."""
        return frozenset(self._actors)

    def __len__(self) -> int:
        return len(self._actors)

    async def run(self, *, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Own the actors' nursery until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started(self)
            await trio.sleep_forever()

    def start(self, agent_id: AgentId) -> bool:
        """Start the agent's actor; False if one was already running (it is woken instead)."""
        if self._nursery is None:
            raise RuntimeError("Supervisor.run has not started")
        if agent_id in self._actors:
            self._again[agent_id] = trio.current_time()
            actor = self._actors[agent_id]
            if actor is not None:
                actor.wake()
            return False
        self._actors[agent_id] = None
        self._nursery.start_soon(self._supervise, agent_id, name=f"actor {agent_id}")
        return True

    def wake(self, agent_id: AgentId) -> bool:
        """Wake the agent's actor; False if it has none here."""
        actor = self._actors.get(agent_id)
        if actor is None:
            return False
        actor.wake()
        return True

    async def _supervise(self, agent_id: AgentId) -> None:
        s = self._settings
        policy = RestartPolicy(s.restart_backoff_s, s.restart_backoff_max_s, s.restart_budget,
                               s.restart_window_s)
        try:
            while True:
                self._again.pop(agent_id, None)
                actor = self._make_actor(agent_id)
                self._actors[agent_id] = actor
                try:
                    await actor.run()
                except Exception as exc:  # a crash is contained to its actor
                    if self._wait_redis is not None and is_connection_loss(exc):
                        # Redis went away: not the actor's fault, no restart budget spent.
                        self._actors[agent_id] = None
                        await trio.sleep(s.restart_backoff_s)
                        await self._wait_redis()
                        continue
                    reason = describe(exc)
                    self._actors[agent_id] = None
                    if out_of_files(exc):  # temporary: back off, never spend the budget
                        delay = min(s.restart_backoff_max_s, max(s.restart_backoff_s, 1.0))
                        log.warning("actor %s out of open files (%s); retrying in %.1fs",
                                    agent_id, reason, delay)
                        await trio.sleep(delay)
                        continue
                    decision = policy.on_crash(trio.current_time())
                    if not decision.restart:
                        log.error("actor %s crashed %d times, giving up: %s", agent_id,
                                  decision.crashes_in_window, reason)
                        await self._give_up(agent_id, exc)
                        return
                    log.warning("actor %s crashed (%s); restart %d in %.1fs", agent_id, reason,
                                decision.crashes_in_window, decision.delay_s)
                    await trio.sleep(decision.delay_s)
                    continue
                again = self._again.pop(agent_id, None)
                if again is None or again < actor.last_read:
                    return
                log.info("actor %s ended with a start pending: starting it again", agent_id)
        finally:
            self._actors.pop(agent_id, None)
            self._again.pop(agent_id, None)
            if not self._actors and self._on_idle is not None:
                self._on_idle()

    async def _give_up(self, agent_id: AgentId, exc: BaseException) -> None:
        try:
            await self._on_give_up(agent_id, exc)
        except Exception as err:
            log.error("could not mark %s as failed: %s", agent_id, describe(err))
