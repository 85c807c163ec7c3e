"""An actor's upkeep besides rounds: the heartbeat and idle bookkeeping (agent-loop.md §3.2 step 6).

The heartbeat refreshes ``last_heartbeat`` every ``heartbeat_s`` (during model
runs too, which is how ``tt recover`` tells a dead runtime from a long round; a
failed beat is logged and retried, never fatal to the round). It wakes the
loop when it sees a stop flag, a pause ending or a terminal state, so control
commands that do not send a wake still take effect within one heartbeat; when
it sees another incarnation in the record (another runtime, ``tt recover``,
``tt restart``), it cancels the running round at once — the model is killed —
and the actor ends.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from tinytown.errors import RedisError
from tinytown.models import Agent, AgentState, EventType
from tinytown.runtime.policy import (
    IDLE_TIMEOUT_ACTIVITY_PREFIX,
    ExitReason,
    idle_deadline,
    idle_timed_out,
)
from tinytown.town import utcnow

if TYPE_CHECKING:
    from tinytown.runtime.actor import AgentActor

log = logging.getLogger("tinytown.runtime")

_TERMINAL = frozenset(s.value for s in AgentState if s.is_terminal)


async def heartbeat(actor: AgentActor) -> None:
    """Beat until cancelled; supersede the actor when its incarnation was taken over."""
    while True:
        await trio.sleep(actor.ctx.settings.heartbeat_s)
        try:
            beat = await actor.delivery.beat(utcnow())
        except RedisError as exc:  # a Redis hiccup must not kill a long model run
            log.warning("%s: heartbeat failed (%s); retrying", actor.name, exc)
            continue
        if beat is None or beat.incarnation != actor.delivery.incarnation:
            actor.supersede()
            continue
        if beat.stop:
            actor.wake()
            continue
        paused = beat.state == AgentState.PAUSED.value
        if beat.state in _TERMINAL or paused != actor.paused:
            actor.wake()


async def idle_step(actor: AgentActor, agent: Agent) -> float | ExitReason | None:
    """Idle bookkeeping; the trio deadline to wait until, the exit, or None (no deadline)."""
    now = utcnow()
    current = agent.current_task
    if current is not None:
        task = await actor.ctx.town.channel.get_task(current)
        if task is None or task.is_terminal:
            await actor.delivery.update(current_task=None)
            current = None
    became_idle = agent.state not in (AgentState.PAUSED, AgentState.IDLE)
    last_active = now if became_idle else agent.last_active_at
    fields: dict[str, object] = {"last_heartbeat": now}
    if became_idle:
        fields["last_active_at"] = now
    applied = await actor.delivery.update(
        AgentState.IDLE, only_from=(AgentState.STARTING, AgentState.WORKING, AgentState.IDLE),
        **fields,
    )
    if applied is None:
        return ExitReason.SUPERSEDED
    if agent.state is AgentState.STARTING and applied:
        await actor.emit(EventType.AGENT_STATE_CHANGED, "Agent ready", agent.state,
                         AgentState.IDLE)
    timeout = actor.ctx.config().agent.idle_timeout_s
    if idle_timed_out(last_active, now, timeout, current is not None):
        actor.log.line(f"   🔻 Idle timeout reached after {timeout}s, draining and stopping...")
        await actor.delivery.update(AgentState.DRAINING, only_from=(AgentState.IDLE,))
        await actor.activity(
            f"{IDLE_TIMEOUT_ACTIVITY_PREFIX} after {timeout}s; draining and stopping")
        actor.exit_from = AgentState.DRAINING
        return ExitReason.IDLE_TIMEOUT
    if not actor.idle_logged:
        actor.log.line("   📭 Inbox empty, waiting...")
        actor.idle_logged = True
    deadline = idle_deadline(last_active, now, timeout, current is not None)
    if deadline is None:
        return None
    return trio.current_time() + max((deadline - now).total_seconds(), 0.0)
