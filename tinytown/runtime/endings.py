"""How an actor ends: its final state and log lines, or a runtime shutdown's clean-up."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from tinytown.models import AgentState, EventType
from tinytown.runtime.policy import ExitReason
from tinytown.runtime.rounds import revert_started_task
from tinytown.runtime.settings import ShutdownMode
from tinytown.town import utcnow

if TYPE_CHECKING:
    from tinytown.runtime.actor import AgentActor

log = logging.getLogger("tinytown.runtime")

LIVE: Final = (AgentState.STARTING, AgentState.IDLE, AgentState.WORKING, AgentState.PAUSED,
               AgentState.DRAINING)


async def finish(actor: AgentActor, reason: ExitReason) -> None:
    """Write the final state (only over the state the decision was based on) and log."""
    final = reason.final_state
    if final is None:
        log.info("%s: %s", actor.name, reason.value)
        return
    now = utcnow()
    if final is AgentState.ERROR:
        # The reason first: whoever sees the Error state finds why in the activity.
        actor.log.line(f"❌ Agent '{actor.name}' failed: {actor.error_detail}")
        await actor.activity(f"❌ Error: {actor.error_detail}")
    only_from = LIVE if final is AgentState.ERROR else (actor.exit_from or AgentState.IDLE,)
    applied = await actor.delivery.update(final, only_from=only_from, last_heartbeat=now)
    agent, _ = await actor.delivery.read()
    if final is AgentState.ERROR:
        await actor.emit(EventType.AGENT_FAILED, f"Agent failed: {actor.error_detail}",
                         actor.exit_from, AgentState.ERROR)
    elif agent is not None:
        actor.log.line(
            f"🏁 Agent '{actor.name}' finished: {agent.rounds_completed} rounds, "
            f"{agent.tasks_completed} tasks"
        )
        if applied:
            await actor.emit(EventType.AGENT_STOPPED, f"Agent stopped: {reason.value}",
                             actor.exit_from, AgentState.STOPPED)
    else:
        actor.log.line(f"🏁 Agent '{actor.name}' finished after {actor.max_rounds} rounds")


async def on_shutdown(actor: AgentActor) -> None:
    """Runtime shutdown: return the in-flight batch to the queues, then stop or suspend.

    A batch already settled is left alone (settling is idempotent), so a
    shutdown landing right after a round's acknowledgement re-queues nothing.
    """
    batch = actor.inflight
    if batch is not None and not batch.empty:
        await revert_started_task(actor)
        done = await actor.delivery.settle(
            batch, batch.urgent_raw, batch.normal_raw, count_round=False
        )
        if done is not None:
            actor.log.line("   ↩️ Returned the in-flight messages to the queues")
    now = utcnow()
    if actor.ctx.shutdown_mode is ShutdownMode.STOP:
        applied = await actor.delivery.update(
            AgentState.STOPPED, only_from=LIVE, last_heartbeat=now
        )
        if applied:
            actor.log.line(f"🛑 Agent '{actor.name}' stopped: runtime shut down")
            await actor.activity("🛑 Stopped: runtime shut down")
            await actor.emit(EventType.AGENT_STOPPED, "Agent stopped: runtime shut down",
                             None, AgentState.STOPPED)
    else:
        await actor.delivery.update(
            AgentState.IDLE, only_from=(AgentState.WORKING,), last_heartbeat=now
        )
        actor.log.line(f"💤 Agent '{actor.name}' suspended: runtime shut down (will resume)")
