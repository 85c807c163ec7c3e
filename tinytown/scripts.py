"""Every Lua script tinytown runs, built from the state enums and the ``keys`` constants.

A state is spelled by its enum (``TaskState.RUNNING``), never as a literal, and
which task states a script accepts comes from :data:`~tinytown.models.TASK_MOVES`,
the table :meth:`~tinytown.models.TaskState.can_become` reads: the Python side
and the server side share one state machine. The activity list has one writer,
:data:`PUSH_ACTIVITY` (with its Lua twin inside the scripts that log a line).

Each script's comment gives its ``KEYS`` and ``ARGV``. Call a script with
``await SCRIPT(redis, keys, args)``; inside a ``MULTI`` pipeline, queue it with
``SCRIPT.queue(pipe, keys, args)`` (full source: no ``NOSCRIPT`` retry there).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from tinytown.keys import ACTIVITY_KEEP, ACTIVITY_TTL_S, STOP_TTL_S
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


_RUNNING = TaskState.RUNNING.value
_ASSIGNED = TaskState.ASSIGNED.value
_TERMINAL_AGENT = lua_set(s.value for s in AgentState if s.is_terminal)
_TERMINAL_TASK = lua_set(s.value for s in TaskState if s.is_terminal)

# The one activity writer (Lua): newest first, ACTIVITY_KEEP kept, expiring. A key of
# another type is left alone: a script stopped by an error midway keeps its earlier
# writes, and activity is only a log.
_ACTIVITY_FN = f"""
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
_CHECK_INCARNATION = f"""
local inc = tonumber(redis.call('HGET', KEYS[1], 'incarnation') or '0') or 0
if inc ~= tonumber(ARGV[1]) then return {SUPERSEDED} end
"""

# A task still running for this agent (or for nobody) goes back to assigned to it:
# the one rule for "the round that ran it ended without finishing it".
_REVERT_FN = f"""
local function revert_running(task, agent_id, now)
  if redis.call('HGET', task, 'state') ~= '{_RUNNING}' then return 0 end
  local owner = redis.call('HGET', task, 'assigned_to')
  if owner and owner ~= agent_id then return 0 end
  redis.call('HSET', task, 'state', '{_ASSIGNED}', 'assigned_to', agent_id, 'updated_at', now)
  return 1
end
"""

# --- activity and agent records ---------------------------------------------------------

# KEYS: activity list; ARGV: line. Returns 1 if written, 0 if the key has another type.
PUSH_ACTIVITY: Final = Script(
_ACTIVITY_FN + "\nreturn push_activity(KEYS[1], ARGV[1])\n"
)

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
    _ACTIVITY_FN
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
  return not ({_TERMINAL_AGENT})[f[2] or '{AgentState.STARTING.value}']
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
    _ACTIVITY_FN
    + _NAME_FN
    + f"""
local state = redis.call('HGET', KEYS[2], 'state')
if not state then return '-' end
if not ({_TERMINAL_AGENT})[state] then return state end
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

# --- tasks ------------------------------------------------------------------------------

# Run inside the completing transaction: the finished task's pending assignments leave
# the assignee's queues and processing list (keeping the urgent count of processing in
# step), so its work is never shown to a model again.
# KEYS: inbox, urgent, processing, inflight count; ARGV: task id. Returns how many left.
DROP_ASSIGNMENTS: Final = Script(
    """
local tid = ARGV[1]
local function assigns(item)
  if not string.find(item, tid, 1, true) then return false end
  local ok, m = pcall(cjson.decode, item)
  return ok and type(m) == 'table' and m['type'] == 'task_assign' and m['task_id'] == tid
end
local removed = 0
for k = 1, 2 do
  for _, item in ipairs(redis.call('LRANGE', KEYS[k], 0, -1)) do
    if assigns(item) then removed = removed + redis.call('LREM', KEYS[k], 0, item) end
  end
end
local nu = tonumber(redis.call('GET', KEYS[4]) or '0') or 0
local left = nu
for i, item in ipairs(redis.call('LRANGE', KEYS[3], 0, -1)) do
  if assigns(item) then
    removed = removed + redis.call('LREM', KEYS[3], 1, item)
    if i <= nu then left = left - 1 end
  end
end
if left ~= nu then
  if left > 0 then redis.call('SET', KEYS[4], left) else redis.call('DEL', KEYS[4]) end
end
return removed
"""
)

# Run inside the completing transaction: the assignee's side of a finished task.
# KEYS: agent hash; ARGV: task id, heartbeat timestamp, "1" to count a completion.
# Returns {exists, cleared pointer, tasks_completed}.
CREDIT_ASSIGNEE: Final = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, 0} end
local cleared = 0
if redis.call('HGET', KEYS[1], 'current_task') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'current_task')
  cleared = 1
end
redis.call('HSET', KEYS[1], 'last_heartbeat', ARGV[2])
local n = tonumber(redis.call('HGET', KEYS[1], 'tasks_completed') or '0') or 0
if ARGV[3] == '1' then n = redis.call('HINCRBY', KEYS[1], 'tasks_completed', 1) end
return {1, cleared, n}
"""
)

# KEYS: agent hash, task hash; ARGV: agent id, updated_at. A recovered (dead) agent's
# running task goes back to assigned (its message is back in the inbox), as after a failed
# round; the agent's pointer to it is cleared. Returns 1 if the task was reverted.
RECOVER_TASK: Final = Script(
    _REVERT_FN
    + """
redis.call('HDEL', KEYS[1], 'current_task')
return revert_running(KEYS[2], ARGV[1], ARGV[2])
"""
)

# KEYS: backlog list, task hash; ARGV: task id. Removes the entry and, if it was there, the task.
REMOVE_BACKLOG_TASK: Final = Script(
    """
local n = redis.call('LREM', KEYS[1], 1, ARGV[1])
if n > 0 then redis.call('DEL', KEYS[2]) end
return n
"""
)

# --- queues -----------------------------------------------------------------------------

# Move one exact entry: remove ARGV[1] from KEYS[1]; if it was there, push ARGV[2] on
# KEYS[2] (ARGV[3] 'L' = head, else tail), skipping the push when ARGV[4] is '1' and
# the value is already in KEYS[2]. Returns 1 if the entry was moved.
MOVE_ENTRY: Final = Script(
    """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[4] == '1' and redis.call('LPOS', KEYS[2], ARGV[2]) then return 1 end
if ARGV[3] == 'L' then
  redis.call('LPUSH', KEYS[2], ARGV[2])
else
  redis.call('RPUSH', KEYS[2], ARGV[2])
end
return 1
"""
)

# Reclaim one task message to the backlog, never reopening an ended task: the check of the
# task's state and the move happen in this one script, so a completion racing the reclaim
# either lands first (the stale message is dropped, the task stays ended) or after (the
# task is pending in the backlog and the completion ends it there).
# KEYS: source queue, backlog, task hash. ARGV: the exact queued entry, task id, now.
# Returns 1 if moved (the task record, if any, becomes pending and unassigned), 2 if the
# task had ended (the message is only removed), 0 if the entry was no longer queued.
RECLAIM_TO_BACKLOG: Final = Script(
    f"""
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
local kind = redis.call('TYPE', KEYS[3])['ok']
local state = false
if kind == 'hash' then state = redis.call('HGET', KEYS[3], 'state') end
if state and ({_TERMINAL_TASK})[state] then return 2 end
if not redis.call('LPOS', KEYS[2], ARGV[2]) then redis.call('RPUSH', KEYS[2], ARGV[2]) end
if kind == 'hash' then
  redis.call('HSET', KEYS[3], 'state', '{TaskState.PENDING.value}', 'updated_at', ARGV[3])
  redis.call('HDEL', KEYS[3], 'assigned_to', 'started_at')
end
return 1
"""
)

# Assign a task to an agent unless it has ended (one script: no completion slips between).
# KEYS: task hash. ARGV: agent id, now. Returns 1 if assigned, 0 if ended or missing.
ASSIGN_IF_OPEN: Final = Script(
    f"""
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then return 0 end
local state = redis.call('HGET', KEYS[1], 'state')
if state and ({_TERMINAL_TASK})[state] then return 0 end
redis.call('HSET', KEYS[1], 'state', '{TaskState.ASSIGNED.value}', 'assigned_to', ARGV[1],
           'updated_at', ARGV[2])
return 1
"""
)

# Put processing items back at the head of their queues, oldest first, then clear them.
# The first <inflight count> items came from the urgent queue (the runtime records it).
# The open batch, if any, is closed: a late settle of it changes nothing.
# KEYS: processing, inbox, urgent, inflight count, batch tag. Returns how many were put back.
REQUEUE_PROCESSING: Final = Script(
    """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local nu = tonumber(redis.call('GET', KEYS[4]) or '0') or 0
if nu > #items then nu = #items end
for i = #items, nu + 1, -1 do redis.call('LPUSH', KEYS[2], items[i]) end
for i = nu, 1, -1 do redis.call('LPUSH', KEYS[3], items[i]) end
redis.call('DEL', KEYS[1], KEYS[4])
local tag = redis.call('GET', KEYS[5])
if tag and string.sub(tag, 1, 5) == 'open:' then
  redis.call('SET', KEYS[5], 'done:' .. string.sub(tag, 6))
end
return #items
"""
)

# --- the runtime: liveness key of one host ----------------------------------------------

# KEYS: liveness; ARGV: expected holder, new holder, ttl ms. Set to the new holder if the
# key is free or still held by the expected one; else return the holder. Holding it is
# (pid, pid, ttl); taking over from a dead holder is (dead pid, pid, ttl), so two runtimes
# starting at once after a crash cannot both win.
CLAIM_LIVENESS: Final = Script(
    """
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return cur end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ARGV[2]
"""
)

# KEYS: liveness; ARGV: our pid. Deletes the key only if we hold it.
RELEASE_LIVENESS: Final = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)

# --- the runtime: one actor's incarnation-checked writes (decision 7) --------------------

# KEYS: agent; ARGV: host, now. Returns the new incarnation, or 0 without a record.
CLAIM_INCARNATION: Final = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'incarnation', 1)
redis.call('HSET', KEYS[1], 'host', ARGV[1], 'last_heartbeat', ARGV[2], 'last_active_at', ARGV[2])
return n
"""
)

# KEYS: agent, urgent, inbox, processing, inflight, batch; ARGV: incarnation, limit.
# The batch in processing (left by a crashed runtime: handled first), else up to limit
# messages moved from the urgent queue then the inbox. A non-empty batch is tagged
# (KEYS[6]: 'open:<n>' until settled, then 'done:<n>'; n never repeats).
# Returns {SUPERSEDED} when superseded, else {urgent count, tag ('' if empty), raw...}.
TAKE_BATCH: Final = Script(
    _CHECK_INCARNATION.replace(f"return {SUPERSEDED}", f"return {{{SUPERSEDED}}}")
    + """
local function tag()
  local cur = redis.call('GET', KEYS[6]) or ''
  if string.sub(cur, 1, 5) == 'open:' then return string.sub(cur, 6) end
  local n = (tonumber(string.sub(cur, 6)) or 0) + 1
  redis.call('SET', KEYS[6], 'open:' .. n)
  return tostring(n)
end
local held = redis.call('LRANGE', KEYS[4], 0, -1)
if #held > 0 then
  local nu = tonumber(redis.call('GET', KEYS[5]) or '0') or 0
  if nu > #held then nu = #held end
  local out = {nu, tag()}
  for i = 1, #held do out[#out + 1] = held[i] end
  return out
end
local limit = tonumber(ARGV[2])
local out = {0, ''}
for _, src in ipairs({KEYS[2], KEYS[3]}) do
  while #out - 2 < limit do
    local item = redis.call('LMOVE', src, KEYS[4], 'LEFT', 'RIGHT')
    if not item then break end
    out[#out + 1] = item
  end
  if src == KEYS[2] then out[1] = #out - 2 end
end
if out[1] > 0 then redis.call('SET', KEYS[5], out[1]) else redis.call('DEL', KEYS[5]) end
if #out > 2 then out[2] = tag() end
return out
"""
)

# KEYS: agent, processing, inflight, urgent, inbox, batch
# ARGV: incarnation, tag, count_round, n_ack, ack..., n_urgent, urgent retries..., normal retries...
# Idempotent: a batch whose tag is not open changes nothing; only a retry still in
# processing goes back. Clears the round token. Returns SUPERSEDED, ALREADY_SETTLED, else
# rounds_completed (0 when the round is not counted).
SETTLE_BATCH: Final = Script(
    _CHECK_INCARNATION
    + f"""
if redis.call('GET', KEYS[6]) ~= 'open:' .. ARGV[2] then return {ALREADY_SETTLED} end
local i = 4
local n_ack = tonumber(ARGV[i])
local held = {{}}
for j = 1, n_ack do
  if redis.call('LREM', KEYS[2], 1, ARGV[i + j]) > 0 then held[ARGV[i + j]] = true end
end
i = i + n_ack + 1
local n_urgent = tonumber(ARGV[i])
for j = n_urgent, 1, -1 do
  if held[ARGV[i + j]] then redis.call('LPUSH', KEYS[4], ARGV[i + j]) end
end
i = i + n_urgent
for j = #ARGV, i + 1, -1 do
  if held[ARGV[j]] then redis.call('LPUSH', KEYS[5], ARGV[j]) end
end
redis.call('DEL', KEYS[3])
redis.call('SET', KEYS[6], 'done:' .. ARGV[2])
redis.call('HDEL', KEYS[1], 'round_token')
if ARGV[3] == '1' then
  return redis.call('HINCRBY', KEYS[1], 'rounds_completed', 1)
end
return 0
"""
)

# KEYS: agent, processing, inflight, deadletter; ARGV: incarnation, keep, then pairs of
# (raw message, dead-letter entry or '' to drop it). Takes each message out of processing
# (keeping the urgent count in step); an entry goes to the dead-letter list, of which the
# newest <keep> are kept. Returns how many were taken, or SUPERSEDED.
DISCARD_FROM_BATCH: Final = Script(
    _CHECK_INCARNATION
    + """
local nu = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
local n = 0
for i = 3, #ARGV, 2 do
  local pos = redis.call('LPOS', KEYS[2], ARGV[i])
  if pos then
    redis.call('LREM', KEYS[2], 1, ARGV[i])
    if pos < nu then nu = nu - 1 end
    n = n + 1
    if ARGV[i + 1] ~= '' then
      redis.call('RPUSH', KEYS[4], ARGV[i + 1])
      redis.call('LTRIM', KEYS[4], -tonumber(ARGV[2]), -1)
    end
  end
end
if nu > 0 then redis.call('SET', KEYS[3], nu) else redis.call('DEL', KEYS[3]) end
return n
"""
)

# KEYS: agent; ARGV: incarnation, new state ('' = keep), n_from, from states..., field, value...
# Returns SUPERSEDED, 0 not applied (no record or state not in from), 1 applied.
UPDATE_AGENT_IF: Final = Script(
    _CHECK_INCARNATION
    + """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
local n = tonumber(ARGV[3])
if n > 0 then
  local ok = false
  for i = 4, 3 + n do if ARGV[i] == state then ok = true end end
  if not ok then return 0 end
end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[2]) end
for i = 4 + n, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i])
  else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
"""
)

# KEYS: agent, task; ARGV: incarnation, now. A task that may become running does.
# Returns SUPERSEDED, 1 started, 0 left alone (missing, running or ended meanwhile).
START_TASK: Final = Script(
    _CHECK_INCARNATION
    + f"""
local state = redis.call('HGET', KEYS[2], 'state')
if not state or not ({lua_set(sources(TaskState.RUNNING))})[state] then return 0 end
redis.call('HSET', KEYS[2], 'state', '{_RUNNING}', 'started_at', ARGV[2], 'updated_at', ARGV[2])
return 1
"""
)

# KEYS: agent, task; ARGV: incarnation, now, agent id. A task still running for this agent
# goes back to assigned. Returns SUPERSEDED, 1 reverted, 0 left alone.
REVERT_TASK: Final = Script(
    _CHECK_INCARNATION + _REVERT_FN + "\nreturn revert_running(KEYS[2], ARGV[3], ARGV[2])\n"
)

# KEYS: agent, stop; ARGV: now. Returns nil without a record, else {state, incarnation, stop}.
BEAT: Final = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'last_heartbeat', ARGV[1])
return {redis.call('HGET', KEYS[1], 'state') or '',
        redis.call('HGET', KEYS[1], 'incarnation') or '0',
        redis.call('EXISTS', KEYS[2])}
"""
)

# KEYS: a lease key (the mission dispatcher's); ARGV: the owner token. Compare-and-delete:
# only the owner releases its lease. Returns 1 released, 0 not held by this token.
RELEASE_LEASE: Final = Script(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)

# --- queries to the supervisor ------------------------------------------------------------

# KEYS: supervisor urgent queue, supervisor inbox, asker's inbox; ARGV: the query's raw
# JSON, the reply's raw JSON. Takes the query out of whichever queue holds it and queues
# the reply in the same step: a query is answered once, and never lost in between.
# Returns 1 when answered, 0 when the query is no longer queued.
ANSWER_QUERY: Final = Script(
    """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0
   and redis.call('LREM', KEYS[2], 1, ARGV[1]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[3], ARGV[2])
return 1
"""
)
