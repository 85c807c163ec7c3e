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
from tinytown.keys import ACTIVITY_KEEP, ACTIVITY_TTL_S, STOP_TTL_S, Keys
from tinytown.models import Agent, AgentId, AgentState, Event, EventType
from tinytown.redis.client import Pipeline
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
    ok, current, host = await town.redis.execute(
        "EVAL",
        _TRANSITION,
        len(script_keys),
        *script_keys,
        new_state.value,
        stop_flag,
        STOP_TTL_S,
        activity,
        ACTIVITY_KEEP,
        ACTIVITY_TTL_S,
        *sorted(s.value for s in (allowed or ())),
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


# KEYS: agent hash, stop flag, activity list. ARGV: new state, stop op (set/clear/keep),
# stop TTL, activity line, activity length, activity TTL, then the allowed current states
# (none = any). Returns {1, previous, host} when applied, {0, current, host} when refused,
# {-1, '', ''} when there is no record. One script: nothing can slip between check and set.
# The activity line is skipped when that key holds another type: a script stopped by an
# error midway keeps its earlier writes, and activity is only a log.
_TRANSITION = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, '', ''} end
local cur = redis.call('HGET', KEYS[1], 'state') or 'starting'
local host = redis.call('HGET', KEYS[1], 'host') or ''
if #ARGV > 6 then
  local ok = false
  for i = 7, #ARGV do if ARGV[i] == cur then ok = true end end
  if not ok then return {0, cur, host} end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
if ARGV[2] == 'set' then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
elseif ARGV[2] == 'clear' then
  redis.call('DEL', KEYS[2])
end
local kind = redis.call('TYPE', KEYS[3])['ok']
if kind == 'list' or kind == 'none' then
  redis.call('LPUSH', KEYS[3], ARGV[4])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
return {1, cur, host}
"""


def queue_activity(pipe: Pipeline, keys: Keys, aid: AgentId, line: str) -> None:
    key = keys.activity(aid)
    pipe.cmd("LPUSH", key, line)
    pipe.cmd("LTRIM", key, 0, ACTIVITY_KEEP - 1)
    pipe.cmd("EXPIRE", key, ACTIVITY_TTL_S)


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
