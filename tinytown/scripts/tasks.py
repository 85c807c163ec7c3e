"""Scripts over tasks, the queues that carry them, and queries to the supervisor."""

from __future__ import annotations

from typing import Final

from tinytown.models.enums import TaskState
from tinytown.redis.script import Script
from tinytown.scripts.common import REVERT_FN, TERMINAL_TASK

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
    REVERT_FN
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
if state and ({TERMINAL_TASK})[state] then return 2 end
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
if state and ({TERMINAL_TASK})[state] then return 0 end
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
