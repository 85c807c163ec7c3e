"""State changes of one agent, atomic on the server (used by :mod:`tinytown.services.agents`).

One Lua script checks the current state and writes the new state, the stop
flag and the activity line together, so nothing (a heartbeat, the runtime
finishing a round) can slip between the check and the set. After a change the
agent's runtime gets a *wake* so it reacts at once instead of at its next
heartbeat; events are best effort, as in 0.10.
"""

from __future__ import annotations

import logging
from typing import Literal

from tinytown.errors import AgentNotFoundError, InvalidStateError, RedisError
from tinytown.keys import Keys
from tinytown.models import Agent, AgentId, AgentState, Event, EventType
from tinytown.redis.pipeline import Pipeline
from tinytown.scripts import AGENT_TRANSITION, PUSH_ACTIVITY
from tinytown.town import Town, utcnow

log = logging.getLogger("tinytown")

StopFlag = Literal["set", "clear", "keep"]


async def transition(
    town: Town,
    agent: Agent,
    new_state: AgentState,
    *,
    allowed: frozenset[AgentState] | None,
    stop_flag: StopFlag,
    activity: str,
    refusal: str = "",
) -> AgentState:
    """Atomically set the state (if the current one is ``allowed``), the flag and the activity.

    Returns the state before the change.

    Raises:
        AgentNotFoundError: the record is gone.
        InvalidStateError: the current state is not allowed (message from ``refusal``).
    """
    keys = town.channel.keys
    aid = agent.id
    script_keys = (keys.agent(aid), keys.stop(aid), keys.activity(aid))
    ok, current, host = await AGENT_TRANSITION(
        town.redis,
        script_keys,
        [new_state.value, stop_flag, activity, *sorted(s.value for s in (allowed or ()))],
    )
    if ok < 0:
        raise AgentNotFoundError(str(aid))
    previous = state_of(current)
    if ok == 0:
        reason = refusal.format(state=previous.label)
        raise InvalidStateError(f"Agent {agent.name} ({aid}) {reason}")
    if host:
        await wake(town, aid, host)
    return previous


async def wake(town: Town, aid: AgentId, host: str) -> None:
    """Tell the agent's runtime to re-read the record now (else it sees it at its heartbeat).

    Best effort: the change is already made; a lost wake only delays the reaction.
    """
    try:
        await town.channel.runtime_command(host, {"op": "wake", "agent_id": str(aid)})
    except RedisError as exc:
        log.warning("could not wake the runtime of %s: %s", aid, exc)


def state_of(raw: str) -> AgentState:
    try:
        return AgentState(raw)
    except ValueError:
        return AgentState.STARTING  # as the codec reads an unknown state


def queue_activity(pipe: Pipeline, keys: Keys, aid: AgentId, line: str) -> None:
    """Queue an activity line for ``aid`` on a pipeline (the one writer, :data:`PUSH_ACTIVITY`)."""
    PUSH_ACTIVITY.queue(pipe, [keys.activity(aid)], [line])


async def emit_event(
    town: Town,
    event_type: EventType,
    message: str,
    aid: AgentId,
    previous: AgentState,
    new_state: AgentState,
) -> None:
    """Best effort, as in 0.10: the state change is done; a lost event is only logged."""
    event = Event(
        event_type=event_type,
        message=message,
        timestamp=utcnow(),
        agent_id=aid,
        old_state=previous.label,
        new_state=new_state.label,
    )
    try:
        await town.channel.emit(event)
    except RedisError as exc:
        log.warning("could not record %s event: %s", event_type.value, exc)
