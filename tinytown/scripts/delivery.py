"""The runtime's scripts: its host's liveness key and one actor's incarnation-checked writes."""

from __future__ import annotations

from typing import Final

from tinytown.models.enums import TaskState
from tinytown.redis.script import Script
from tinytown.scripts.common import (
    ALREADY_SETTLED,
    CHECK_INCARNATION,
    REVERT_FN,
    RUNNING,
    SUPERSEDED,
    lua_set,
    sources,
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
    CHECK_INCARNATION.replace(f"return {SUPERSEDED}", f"return {{{SUPERSEDED}}}")
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
    CHECK_INCARNATION
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
    CHECK_INCARNATION
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
    CHECK_INCARNATION
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
    CHECK_INCARNATION
    + f"""
local state = redis.call('HGET', KEYS[2], 'state')
if not state or not ({lua_set(sources(TaskState.RUNNING))})[state] then return 0 end
redis.call('HSET', KEYS[2], 'state', '{RUNNING}', 'started_at', ARGV[2], 'updated_at', ARGV[2])
return 1
"""
)

# KEYS: agent, task; ARGV: incarnation, now, agent id. A task still running for this agent
# goes back to assigned. Returns SUPERSEDED, 1 reverted, 0 left alone.
REVERT_TASK: Final = Script(
    CHECK_INCARNATION + REVERT_FN + "\nreturn revert_running(KEYS[2], ARGV[3], ARGV[2])\n"
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
