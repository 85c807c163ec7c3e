"""What the scripts share: result codes, Lua fragments built from the enums, the activity writer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from tinytown.keys import ACTIVITY_KEEP, ACTIVITY_TTL_S
from tinytown.models.enums import TASK_MOVES, AgentState, TaskState
from tinytown.redis.script import Script

SUPERSEDED: Final = -1
"""What an incarnation-checked script returns when another incarnation owns the agent."""
ALREADY_SETTLED: Final = -2
"""What :data:`SETTLE_BATCH` returns for a batch that is no longer open."""


def lua_set(values: Iterable[str]) -> str:
    """A Lua set literal: ``{['a'] = true, ['b'] = true}`` (values are enum values, no quotes)."""
    return "{" + ", ".join(f"['{v}'] = true" for v in sorted(values)) + "}"


def sources(target: TaskState) -> frozenset[TaskState]:
    """The task states from which a move to ``target`` is normal (per :data:`TASK_MOVES`)."""
    return frozenset(s for s, moves in TASK_MOVES.items() if target in moves and s is not target)


RUNNING = TaskState.RUNNING.value
ASSIGNED = TaskState.ASSIGNED.value
TERMINAL_AGENT = lua_set(s.value for s in AgentState if s.is_terminal)
TERMINAL_TASK = lua_set(s.value for s in TaskState if s.is_terminal)

# The one activity writer (Lua): newest first, ACTIVITY_KEEP kept, expiring. A key of
# another type is left alone: a script stopped by an error midway keeps its earlier
# writes, and activity is only a log.
ACTIVITY_FN = f"""
local function push_activity(key, line)
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'list' and kind ~= 'none' then return 0 end
  redis.call('LPUSH', key, line)
  redis.call('LTRIM', key, 0, {ACTIVITY_KEEP - 1})
  redis.call('EXPIRE', key, {ACTIVITY_TTL_S})
  return 1
end
"""

# Refuse (return SUPERSEDED) when the agent record (KEYS[1]) has another incarnation than
# ARGV[1]. Scripts starting with it change nothing for a superseded actor. Incarnations
# compare for equality: a restored snapshot may hold an older number, and the actor whose
# number no longer matches the record is the stale one either way.
CHECK_INCARNATION = f"""
local inc = tonumber(redis.call('HGET', KEYS[1], 'incarnation') or '0') or 0
if inc ~= tonumber(ARGV[1]) then return {SUPERSEDED} end
"""

# A task still running for this agent (or for nobody) goes back to assigned to it:
# the one rule for "the round that ran it ended without finishing it".
REVERT_FN = f"""
local function revert_running(task, agent_id, now)
  if redis.call('HGET', task, 'state') ~= '{RUNNING}' then return 0 end
  local owner = redis.call('HGET', task, 'assigned_to')
  if owner and owner ~= agent_id then return 0 end
  redis.call('HSET', task, 'state', '{ASSIGNED}', 'assigned_to', agent_id, 'updated_at', now)
  return 1
end
"""

# KEYS: activity list; ARGV: line. Returns 1 if written, 0 if the key has another type.
PUSH_ACTIVITY: Final = Script(
    ACTIVITY_FN + "\nreturn push_activity(KEYS[1], ARGV[1])\n"
)

# KEYS: a key held by one owner (a runtime's liveness key, the mission dispatcher's lease);
# ARGV: the owner's token. Compare-and-delete: only the holder releases it.
# Returns 1 released, 0 not held by this token.
RELEASE_IF_HELD: Final = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)
