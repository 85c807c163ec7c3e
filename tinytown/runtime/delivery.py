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
  redelivered after a crash keeps its urgent marks. Each batch gets a tag
  (``Keys.batch``: ``open:<n>`` until it is settled, then ``done:<n>``);
* :func:`settle` acknowledges a batch after its round, putting back the
  messages to retry at the head of their queues in their original order, and
  counts the round, in one atomic step. It is idempotent: a batch whose tag
  is no longer open (settled already, or handed back by a shutdown) changes
  nothing, and only messages still in processing are ever put back;
* :func:`discard` takes single messages out of the batch before the model
  sees them: assignments of tasks that already ended (dropped) and poison
  messages (moved to the agent's dead-letter list with the reason);
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
from tinytown.scripts import (
    ALREADY_SETTLED,
    BEAT,
    CLAIM_INCARNATION,
    DISCARD_FROM_BATCH,
    REVERT_TASK,
    SETTLE_BATCH,
    START_TASK,
    SUPERSEDED,
    TAKE_BATCH,
    UPDATE_AGENT_IF,
)

DEADLETTER_KEEP = 1000
"""At most this many dead letters are kept per agent (the oldest are dropped)."""


@attrs.frozen
class InFlight:
    """A batch in the processing list: raw messages, the first ``urgent`` from the urgent queue.

    ``tag`` names the batch for :meth:`Delivery.settle` (empty for an empty batch).
    """

    raw: tuple[str, ...]
    urgent: int
    tag: str = ""

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
        n = int(await CLAIM_INCARNATION(self.redis, [self._agent_key], [host, hash_ts(now)]))
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
        reply = await TAKE_BATCH(
            self.redis,
            [self._agent_key, k.urgent(aid), k.inbox(aid), k.processing(aid),
             k.inflight_urgent(aid), k.batch(aid)],
            [self.incarnation, limit],
        )
        if int(reply[0]) == SUPERSEDED:
            return None
        return InFlight(tuple(str(r) for r in reply[2:]), int(reply[0]), str(reply[1] or ""))

    async def settle(
        self,
        batch: InFlight,
        retry_urgent: Sequence[str] = (),
        retry_normal: Sequence[str] = (),
        *,
        count_round: bool,
    ) -> int | None:
        """Acknowledge ``batch``; put the retries back at the head of their queues, in order.

        Idempotent: a batch settled before changes nothing (and returns 0);
        a retry no longer in processing (its task was completed meanwhile)
        is not put back. Clears the round token. Returns the agent's
        ``rounds_completed`` (0 when ``count_round`` is false), or ``None``
        when superseded (nothing was changed).
        """
        if batch.empty:
            return 0
        k = self.keys
        aid = self.agent_id
        args: list[str | int] = [self.incarnation, batch.tag, 1 if count_round else 0,
                                 len(batch.raw), *batch.raw,
                                 len(retry_urgent), *retry_urgent, *retry_normal]
        n = int(await SETTLE_BATCH(
            self.redis,
            [self._agent_key, k.processing(aid), k.inflight_urgent(aid), k.urgent(aid),
             k.inbox(aid), k.batch(aid)],
            args,
        ))
        if n == SUPERSEDED:
            return None
        return 0 if n == ALREADY_SETTLED else n

    async def discard(self, items: Sequence[tuple[str, str]]) -> int | None:
        """Take messages out of processing: ``(raw, dead-letter entry)`` pairs, ``""`` to drop.

        Returns how many were taken, ``None`` when superseded.
        """
        if not items:
            return 0
        k = self.keys
        aid = self.agent_id
        args: list[str | int] = [self.incarnation, DEADLETTER_KEEP]
        for raw, entry in items:
            args += [raw, entry]
        n = int(await DISCARD_FROM_BATCH(
            self.redis,
            [self._agent_key, k.processing(aid), k.inflight_urgent(aid), k.deadletter(aid)],
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
        n = int(await UPDATE_AGENT_IF(self.redis, [self._agent_key], args))
        return None if n == SUPERSEDED else bool(n)

    async def start_task(self, task_id: TaskId, now: datetime) -> bool | None:
        """Mark the round's task running if it is still pending or assigned.

        Field-level and conditional on the server, so a concurrent
        ``tt task complete``/``cancel`` is never overwritten by a stale copy.
        Returns True if started, False if left alone, ``None`` when superseded.
        """
        n = int(await START_TASK(
            self.redis, [self._agent_key, self.keys.task(task_id)],
            [self.incarnation, hash_ts(now)],
        ))
        return None if n == SUPERSEDED else bool(n)

    async def revert_task(self, task_id: TaskId, now: datetime) -> bool | None:
        """Put a task this agent left running back to ``assigned`` (after a failed round).

        Only a task still running and assigned to this agent is touched.
        Returns True if reverted, False if left alone, ``None`` when superseded.
        """
        n = int(await REVERT_TASK(
            self.redis, [self._agent_key, self.keys.task(task_id)],
            [self.incarnation, hash_ts(now), str(self.agent_id)],
        ))
        return None if n == SUPERSEDED else bool(n)

    async def beat(self, now: datetime) -> Beat | None:
        """Refresh ``last_heartbeat``; what the record says now (``None``: record gone)."""
        reply = await BEAT(
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
