"""Scripts over agent records and the agent name index."""

from __future__ import annotations

from typing import Final

from tinytown.keys import STOP_TTL_S
from tinytown.models.enums import AgentState
from tinytown.redis.script import Script
from tinytown.scripts.common import ACTIVITY_FN, TERMINAL_AGENT

# Set and delete fields of a hash only when it exists; returns 1 if it did.
# KEYS: hash; ARGV: number of fields to delete, their names, then field/value pairs to set.
UPDATE_IF_EXISTS: Final = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[1])
if n > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 2, n + 1)) end
if #ARGV > n + 1 then redis.call('HSET', KEYS[1], unpack(ARGV, n + 2)) end
return 1
"""
)

# KEYS: agent hash, stop flag, activity list. ARGV: new state, stop op (set/clear/keep),
# activity line, then the allowed current states (none = any). Returns {1, previous, host}
# when applied, {0, current, host} when refused, {-1, '', ''} when there is no record.
# One script: nothing can slip between check and set.
AGENT_TRANSITION: Final = Script(
    ACTIVITY_FN
    + f"""
if redis.call('EXISTS', KEYS[1]) == 0 then return {{-1, '', ''}} end
local cur = redis.call('HGET', KEYS[1], 'state') or '{AgentState.STARTING.value}'
local host = redis.call('HGET', KEYS[1], 'host') or ''
if #ARGV > 3 then
  local ok = false
  for i = 4, #ARGV do if ARGV[i] == cur then ok = true end end
  if not ok then return {{0, cur, host}} end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
if ARGV[2] == 'set' then
  redis.call('SET', KEYS[2], '1', 'EX', {STOP_TTL_S})
elseif ARGV[2] == 'clear' then
  redis.call('DEL', KEYS[2])
end
push_activity(KEYS[3], ARGV[3])
return {{1, cur, host}}
"""
)

# --- the agent name index (keys.py: ``tt:<town>:names``) ------------------------------------
#
# Every script that creates (CREATE_AGENT), revives (REVIVE_AGENT) or removes
# (DELETE_AGENT_IF_STATE) an agent checks and updates the index in the same
# script, so two concurrent spawns of one name give exactly one live agent. A
# name's holder is live when its record exists, still has that name and is not
# in a terminal state (no state reads as starting: live). tinytown 0.10 writes
# agents without touching the index: callers pass the live agents of that name
# their scan found (the candidates), re-checked here, and the index is repaired.
# An index of the wrong type is ours and derived: it is rebuilt, not fatal.
#
# The reserving scripts share one ARGV head: name, the agent's id, the agent key
# prefix (``tt:<town>:agent:``), the number n of candidates, the n candidate ids;
# their own arguments start at ARGV[5 + n]. KEYS[1] is the index.
_NAME_FN = f"""
local name, id, prefix = ARGV[1], ARGV[2], ARGV[3]
local ncand = tonumber(ARGV[4])
local rest = 5 + ncand
local ikind = redis.call('TYPE', KEYS[1])['ok']
if ikind ~= 'hash' and ikind ~= 'none' then redis.call('DEL', KEYS[1]) end
local function live(other)
  local f = redis.pcall('HMGET', prefix .. other, 'name', 'state')
  if type(f) ~= 'table' or f.err or f[1] ~= name then return false end
  return not ({TERMINAL_AGENT})[f[2] or '{AgentState.STARTING.value}']
end
local function holder()
  local cur = redis.call('HGET', KEYS[1], name)
  if cur and cur ~= id and live(cur) then return cur end
  for i = 5, 4 + ncand do
    local other = ARGV[i]
    if other ~= id and live(other) then
      redis.call('HSET', KEYS[1], name, other)
      return other
    end
  end
  return false
end
"""

# KEYS: index, new agent hash. Own ARGV: the record's field/value pairs.
# Returns '' when created, else the id of the live agent holding the name.
CREATE_AGENT: Final = Script(
    _NAME_FN
    + """
local taken = holder()
if taken then return taken end
redis.call('HSET', KEYS[2], unpack(ARGV, rest))
redis.call('HSET', KEYS[1], name, id)
return ''
"""
)

# KEYS: index, agent, stop, activity. Own ARGV: now, rounds, host, activity line.
# Revive a terminal agent: returns '' on success, '-' when the record is missing,
# '=<id>' when another live agent holds the name, else its current (live) state.
REVIVE_AGENT: Final = Script(
    ACTIVITY_FN
    + _NAME_FN
    + f"""
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return '-' end
if not ({TERMINAL_AGENT})[state] then return state end
local taken = holder()
if taken then return '=' .. taken end
local now = ARGV[rest]
redis.call('HSET', KEYS[2], 'state', '{AgentState.IDLE.value}', 'rounds_completed', '0',
           'max_rounds', ARGV[rest + 1], 'host', ARGV[rest + 2], 'last_heartbeat', now,
           'last_active_at', now)
redis.call('DEL', KEYS[3])
push_activity(KEYS[4], ARGV[rest + 3])
redis.call('HSET', KEYS[1], name, id)
return ''
"""
)

# KEYS: index. ARGV: the reserving head with no candidates (name, id, prefix, 0).
# Points the index at id when id is live and the indexed holder is not; returns
# the live holder ('' if none).
REPAIR_NAME: Final = Script(
    _NAME_FN
    + """
local cur = redis.call('HGET', KEYS[1], name)
if cur and live(cur) then return cur end
if live(id) then redis.call('HSET', KEYS[1], name, id) return id end
return ''
"""
)

# KEYS: index, then every key of the agent, its hash first. ARGV: the agent's id,
# then the states in which it may be deleted (any state when none). Deletes the
# agent's keys and its index entry; returns 1 if deleted, else 0.
DELETE_AGENT_IF_STATE: Final = Script(
    f"""
local ikind = redis.call('TYPE', KEYS[1])['ok']
if ikind ~= 'hash' and ikind ~= 'none' then redis.call('DEL', KEYS[1]) end
local f = redis.pcall('HMGET', KEYS[2], 'name', 'state')
if type(f) ~= 'table' or f.err or (not f[1] and not f[2]) then return 0 end
local state = f[2] or '{AgentState.STARTING.value}'
if #ARGV > 1 then
  local ok = false
  for i = 2, #ARGV do if ARGV[i] == state then ok = true end end
  if not ok then return 0 end
end
redis.call('DEL', unpack(KEYS, 2))
if f[1] and redis.call('HGET', KEYS[1], f[1]) == ARGV[1] then
  redis.call('HDEL', KEYS[1], f[1])
end
return 1
"""
)

# Like DELETE_AGENT_IF_STATE, but only while the agent's queues hold exactly what the caller
# left in them (its task messages were moved to the backlog first: nothing that arrived since
# is deleted). KEYS: Keys.agent_keys order (agent hash, inbox, urgent, processing, others),
# then the name index last; ARGV: the expected inbox + urgent + processing length, then the
# allowed states (any when none). Returns 1 if deleted (its index entry too, if it points at
# it), 0 if the state forbids it, -1 if the queues changed.
DELETE_AGENT_IF_DRAINED: Final = Script(
    """
local index = KEYS[#KEYS]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
if #ARGV > 1 then
  local ok = false
  for i = 2, #ARGV do if ARGV[i] == state then ok = true end end
  if not ok then return 0 end
end
local function llen(key)  -- a queue of the wrong type holds nothing to lose: it is deleted
  if redis.call('TYPE', key)['ok'] == 'list' then return redis.call('LLEN', key) end
  return 0
end
local n = llen(KEYS[2]) + llen(KEYS[3]) + llen(KEYS[4])
if n ~= tonumber(ARGV[1]) then return -1 end
local name, id = redis.call('HGET', KEYS[1], 'name'), redis.call('HGET', KEYS[1], 'id')
redis.call('DEL', unpack(KEYS, 1, #KEYS - 1))
local ikind = redis.call('TYPE', index)['ok']
if ikind ~= 'hash' and ikind ~= 'none' then redis.call('DEL', index) end
if name and id and redis.call('HGET', index, name) == id then redis.call('HDEL', index, name) end
return 1
"""
)
