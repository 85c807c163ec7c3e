"""Lossless delivery and incarnation-checked writes of one agent actor (decision 7).

Every write an actor makes to its agent goes through a Lua script that first
compares the record's ``incarnation`` with the actor's: when a newer
incarnation exists (another runtime took the agent over), nothing is
written and the caller learns it was superseded.

* :func:`claim` bumps the incarnation when an actor starts;
* :func:`take_batch` returns the in-flight batch: what is already in the
  processing list (left by a crashed runtime: handled first), else up to
  ``limit`` messages moved atomically from the urgent queue then the inbox;
  how many came from the urgent queue is kept beside the list, so a batch
  redelivered after a crash keeps its urgent marks;
* :func:`settle` acknowledges a batch after its round, putting back the
  messages to retry at the head of their queues in their original order, and
  counts the round, in one atomic step;
* :meth:`Delivery.start_task` and :meth:`Delivery.revert_task` change the
  round's task field by field, only from the states they expect;
* :func:`wait_for_queued` blocks until a queue is non-empty *without taking
  anything* (``BLMOVE q q LEFT LEFT`` is an atomic no-op rotation), so a
  cancelled wait can never lose or move a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs
import trio

from tinytown.codec import agent_from_hash, field_text, hash_ts, pairs_to_dict
from tinytown.keys import Keys
from tinytown.models import Agent, AgentId, AgentState, TaskId
from tinytown.redis.client import Redis
from tinytown.redis.script import Script

SUPERSEDED = -1

_CHECK = """
local inc = tonumber(redis.call('HGET', KEYS[1], 'incarnation') or '0') or 0
if inc > tonumber(ARGV[1]) then return -1 end
"""

# KEYS: agent; ARGV: host, now. Returns the new incarnation, or 0 without a record.
_CLAIM = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'incarnation', 1)
redis.call('HSET', KEYS[1], 'host', ARGV[1], 'last_heartbeat', ARGV[2], 'last_active_at', ARGV[2])
return n
"""
)

# KEYS: agent, urgent, inbox, processing, inflight; ARGV: incarnation, limit.
# Returns {-1} when superseded, else {urgent count, raw messages...}.
_TAKE = Script(
    """
local inc = tonumber(redis.call('HGET', KEYS[1], 'incarnation') or '0') or 0
if inc > tonumber(ARGV[1]) then return {-1} end
local held = redis.call('LRANGE', KEYS[4], 0, -1)
if #held > 0 then
  local nu = tonumber(redis.call('GET', KEYS[5]) or '0') or 0
  if nu > #held then nu = #held end
  local out = {nu}
  for i = 1, #held do out[#out + 1] = held[i] end
  return out
end
local limit = tonumber(ARGV[2])
local out = {0}
for _, src in ipairs({KEYS[2], KEYS[3]}) do
  while #out - 1 < limit do
    local item = redis.call('LMOVE', src, KEYS[4], 'LEFT', 'RIGHT')
    if not item then break end
    out[#out + 1] = item
  end
  if src == KEYS[2] then out[1] = #out - 1 end
end
if out[1] > 0 then redis.call('SET', KEYS[5], out[1]) else redis.call('DEL', KEYS[5]) end
return out
"""
)

# KEYS: agent, processing, inflight, urgent, inbox
# ARGV: incarnation, count_round, n_ack, ack..., n_urgent, urgent retries..., normal retries...
# Returns -1 when superseded, else rounds_completed (0 when the round is not counted).
_SETTLE = Script(
    _CHECK
    + """
local i = 3
local n_ack = tonumber(ARGV[i])
for j = 1, n_ack do redis.call('LREM', KEYS[2], 1, ARGV[i + j]) end
i = i + n_ack + 1
local n_urgent = tonumber(ARGV[i])
for j = n_urgent, 1, -1 do redis.call('LPUSH', KEYS[4], ARGV[i + j]) end
i = i + n_urgent
for j = #ARGV, i + 1, -1 do redis.call('LPUSH', KEYS[5], ARGV[j]) end
redis.call('DEL', KEYS[3])
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HINCRBY', KEYS[1], 'rounds_completed', 1)
end
return 0
"""
)

# KEYS: agent; ARGV: incarnation, new state ('' = keep), n_from, from states..., field, value...
# Returns -1 superseded, 0 not applied (no record or state not in from), 1 applied.
_SET_IF = Script(
    _CHECK
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

# KEYS: agent, task; ARGV: incarnation, now. A pending or assigned task becomes running.
# Returns -1 superseded, 1 started, 0 left alone (missing, running or ended meanwhile).
_START_TASK = Script(
    _CHECK
    + """
local state = redis.call('HGET', KEYS[2], 'state')
if state ~= 'pending' and state ~= 'assigned' then return 0 end
redis.call('HSET', KEYS[2], 'state', 'running', 'started_at', ARGV[2], 'updated_at', ARGV[2])
return 1
"""
)

# KEYS: agent, task; ARGV: incarnation, now, agent id. A task still running for this agent
# goes back to assigned. Returns -1 superseded, 1 reverted, 0 left alone.
_REVERT_TASK = Script(
    _CHECK
    + """
local state = redis.call('HGET', KEYS[2], 'state')
if state ~= 'running' and state ~= 'in_flight' then return 0 end
local owner = redis.call('HGET', KEYS[2], 'assigned_to')
if owner and owner ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[2], 'state', 'assigned', 'assigned_to', ARGV[3], 'updated_at', ARGV[2])
return 1
"""
)

# KEYS: agent, stop; ARGV: now. Returns nil without a record, else {state, incarnation, stop}.
_BEAT = Script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'last_heartbeat', ARGV[1])
return {redis.call('HGET', KEYS[1], 'state') or '',
        redis.call('HGET', KEYS[1], 'incarnation') or '0',
        redis.call('EXISTS', KEYS[2])}
"""
)


@attrs.frozen
class InFlight:
    """A batch in the processing list: raw messages, the first ``urgent`` from the urgent queue."""

    raw: tuple[str, ...]
    urgent: int

    @property
    def empty(self) -> bool:
        return not self.raw

    @property
    def urgent_raw(self) -> tuple[str, ...]:
        return self.raw[: self.urgent]

    @property
    def normal_raw(self) -> tuple[str, ...]:
        return self.raw[self.urgent :]


@attrs.frozen
class Beat:
    """What a heartbeat saw: the record's state, incarnation and stop flag."""

    state: str
    incarnation: int
    stop: bool


class Delivery:
    """The incarnation-checked Redis operations of one actor.

    Args:
        redis: the shared client (non-blocking commands).
        keys: the town's key builder.
        agent_id: the agent.
    """

    def __init__(self, redis: Redis, keys: Keys, agent_id: AgentId) -> None:
        self.redis = redis
        self.keys = keys
        self.agent_id = agent_id
        self.incarnation = 0
        self._agent_key = keys.agent(agent_id)

    async def claim(self, host: str, now: datetime) -> int:
        """Become the agent's newest incarnation; 0 if the record does not exist."""
        n = int(await _CLAIM(self.redis, [self._agent_key], [host, hash_ts(now)]))
        self.incarnation = n
        return n

    async def read(self) -> tuple[Agent | None, bool]:
        """The agent record and whether its stop flag is set (one round trip)."""
        hgetall, stop = await (
            self.redis.pipeline()
            .cmd("HGETALL", self._agent_key)
            .cmd("EXISTS", self.keys.stop(self.agent_id))
            .execute()
        )
        fields = pairs_to_dict(hgetall)
        agent = agent_from_hash(fields, self._agent_key) if fields else None
        return agent, bool(stop)

    async def take_batch(self, limit: int) -> InFlight | None:
        """The batch to handle now (leftovers first); ``None`` when superseded."""
        k = self.keys
        aid = self.agent_id
        reply = await _TAKE(
            self.redis,
            [self._agent_key, k.urgent(aid), k.inbox(aid), k.processing(aid),
             k.inflight_urgent(aid)],
            [self.incarnation, limit],
        )
        if int(reply[0]) == SUPERSEDED:
            return None
        return InFlight(tuple(str(r) for r in reply[1:]), int(reply[0]))

    async def settle(
        self,
        ack: Sequence[str],
        retry_urgent: Sequence[str] = (),
        retry_normal: Sequence[str] = (),
        *,
        count_round: bool,
    ) -> int | None:
        """Acknowledge ``ack``; put the retries back at the head of their queues, in order.

        Returns the agent's ``rounds_completed`` (0 when ``count_round`` is
        false), or ``None`` when superseded (nothing was changed).
        """
        k = self.keys
        aid = self.agent_id
        args: list[str | int] = [self.incarnation, 1 if count_round else 0, len(ack), *ack,
                                 len(retry_urgent), *retry_urgent, *retry_normal]
        n = int(await _SETTLE(
            self.redis,
            [self._agent_key, k.processing(aid), k.inflight_urgent(aid), k.urgent(aid),
             k.inbox(aid)],
            args,
        ))
        return None if n == SUPERSEDED else n

    async def update(
        self,
        state: AgentState | None = None,
        *,
        only_from: Sequence[AgentState] = (),
        **fields: object,
    ) -> bool | None:
        """Set the state (if given) and fields, only when the state is one of ``only_from``.

        An empty ``only_from`` accepts any state. A field set to ``None`` is
        deleted. Returns True if applied, False if not (state did not match or
        no record), ``None`` when superseded.
        """
        args: list[str | int] = [self.incarnation, state.value if state else "", len(only_from)]
        args += [s.value for s in only_from]
        for name, value in fields.items():
            args += [name, _text(value)]
        n = int(await _SET_IF(self.redis, [self._agent_key], args))
        return None if n == SUPERSEDED else bool(n)

    async def start_task(self, task_id: TaskId, now: datetime) -> bool | None:
        """Mark the round's task running if it is still pending or assigned.

        Field-level and conditional on the server, so a concurrent
        ``tt task complete``/``cancel`` is never overwritten by a stale copy.
        Returns True if started, False if left alone, ``None`` when superseded.
        """
        n = int(await _START_TASK(
            self.redis, [self._agent_key, self.keys.task(task_id)],
            [self.incarnation, hash_ts(now)],
        ))
        return None if n == SUPERSEDED else bool(n)

    async def revert_task(self, task_id: TaskId, now: datetime) -> bool | None:
        """Put a task this agent left running back to ``assigned`` (after a failed round).

        Only a task still running and assigned to this agent is touched.
        Returns True if reverted, False if left alone, ``None`` when superseded.
        """
        n = int(await _REVERT_TASK(
            self.redis, [self._agent_key, self.keys.task(task_id)],
            [self.incarnation, hash_ts(now), str(self.agent_id)],
        ))
        return None if n == SUPERSEDED else bool(n)

    async def beat(self, now: datetime) -> Beat | None:
        """Refresh ``last_heartbeat``; what the record says now (``None``: record gone)."""
        reply = await _BEAT(
            self.redis, [self._agent_key, self.keys.stop(self.agent_id)], [hash_ts(now)]
        )
        if not reply:
            return None
        return Beat(str(reply[0]), int(reply[1] or 0), bool(int(reply[2])))

    async def clear_stop(self) -> None:
        await self.redis.execute("DEL", self.keys.stop(self.agent_id))


def _text(value: object) -> str:
    """A field value for the scripts: ``""`` means delete the field."""
    return "" if value is None else field_text(value)


async def wait_for_queued(blocking: Redis, keys: Keys, agent_id: AgentId) -> None:
    """Return once the agent's urgent queue or inbox holds a message; take nothing.

    Blocks on both queues at once, each on its own connection of ``blocking``
    (a client with at least two free connections), with ``BLMOVE q q LEFT
    LEFT``: an atomic rotation of a list onto itself, i.e. a no-op, so the
    wait that loses the race (and is cancelled) cannot lose a message.
    """

    async def wait_on(queue: str, scope: trio.CancelScope) -> None:
        await blocking.execute("BLMOVE", queue, queue, "LEFT", "LEFT", 0)
        scope.cancel()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait_on, keys.urgent(agent_id), nursery.cancel_scope)
        nursery.start_soon(wait_on, keys.inbox(agent_id), nursery.cancel_scope)
