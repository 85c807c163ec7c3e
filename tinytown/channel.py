"""The Channel: inboxes, urgent queues, broadcast, records and events over Redis.

Queue semantics follow tinytown 0.10: high/urgent priority messages jump the
inbox (LPUSH), others queue at the tail (RPUSH); ``send_urgent`` uses the
separate urgent queue, which every receive looks at first.

For lossless delivery the runtime never pops: it moves messages atomically
into the agent's *processing* list, works, then acknowledges them
(:mod:`tinytown.runtime.delivery`). A crash leaves every message either queued
or in processing; :meth:`Channel.requeue_processing` puts them back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

from tinytown.codec import event_from_json, event_to_json, message_from_json, message_to_bytes
from tinytown.errors import CorruptRecordError, ResponseError
from tinytown.keys import AGENT_EVENTS_MAXLEN, EVENTS_MAXLEN, MISSION_EVENTS_MAXLEN
from tinytown.models import AgentId, Event, Message, Priority
from tinytown.redis.client import Redis
from tinytown.redis.pubsub import PubSub
from tinytown.redis.resp import pack_command, pack_head, pack_tail
from tinytown.scripts import REQUEUE_PROCESSING
from tinytown.store import RecordStore

log = logging.getLogger("tinytown")

_PUSH: Final = {p: "LPUSH" if p.jumps_queue else "RPUSH" for p in Priority}
"""The command that queues a message of each priority in an inbox."""
_PACKED_CACHE_MAX: Final = 1024
"""Bound of each cache of packed commands (cleared when full)."""


class Channel(RecordStore):
    """Message transport and state storage for one town."""

    def __init__(self, redis: Redis, town: str) -> None:
        super().__init__(redis, town)
        # Commands packed once: each receiver's BLPOP (agent id, server timeout)
        # and the head of each push to an inbox (command, agent id).
        self._pops: dict[tuple[str, float], bytes] = {}
        self._push_heads: dict[tuple[str, str], bytes] = {}

    # --- sending -------------------------------------------------------------------

    async def send(self, message: Message) -> None:
        """Queue a message in the recipient's inbox (high/urgent priority at the head)."""
        cmd = _PUSH[message.priority]
        to = message.to.text
        heads = self._push_heads
        head = heads.get((cmd, to))
        if head is None:
            if len(heads) >= _PACKED_CACHE_MAX:
                heads.clear()
            head = heads[cmd, to] = pack_head((cmd, self.keys.inbox(to)), 3)
        await self.redis.execute_packed(pack_tail(head, message_to_bytes(message)))

    async def send_urgent(self, message: Message) -> None:
        """Put a message in the recipient's urgent queue, read before the inbox."""
        await self.redis.execute(
            "LPUSH", self.keys.urgent(message.to.text), message_to_bytes(message)
        )

    async def send_many(self, messages: Sequence[Message]) -> None:
        """Send several messages in one round trip."""
        pipe = self.redis.pipeline()
        inbox = self.keys.inbox
        for m in messages:
            pipe.cmd(_PUSH[m.priority], inbox(m.to.text), message_to_bytes(m))
        if len(pipe):
            await pipe.execute()

    async def broadcast(self, message: Message) -> int:
        """Publish on the town's broadcast channel; returns the number of subscribers."""
        n: int = await self.redis.execute("PUBLISH", self.keys.broadcast, message_to_bytes(message))
        return n

    @asynccontextmanager
    async def open_broadcast(self) -> AsyncIterator[BroadcastStream]:
        """Subscribe to broadcasts: ``async for message in stream`` or ``stream.receive()``."""
        async with self.redis.open_pubsub() as pubsub:
            await pubsub.subscribe(self.keys.broadcast)
            yield BroadcastStream(pubsub, self.keys.broadcast)

    # --- receiving (pop semantics, the book's API) ----------------------------------

    async def receive(self, agent_id: AgentId, timeout: float | None = None) -> Message | None:
        """Wait for the next message, urgent queue first; None after ``timeout`` seconds.

        ``timeout=None`` waits forever. A corrupt message raises CorruptRecordError
        (it has been removed from the queue). Pop semantics: a message is gone
        from Redis once returned. If the call is cancelled after Redis already
        popped a message, the message is still returned (see
        :meth:`Redis.execute <tinytown.redis.client.Redis.execute>`) and the
        cancellation is raised at the caller's next checkpoint, so keep what
        it returns; the runtime uses the lossless hand-off below instead.
        """
        server_timeout = 0 if timeout is None else max(timeout, 0.001)
        pops = self._pops
        packed = pops.get((agent_id.text, server_timeout))
        if packed is None:
            if len(pops) >= _PACKED_CACHE_MAX:
                pops.clear()
            keys = self.keys
            packed = pops[agent_id.text, server_timeout] = pack_command(
                ("BLPOP", keys.urgent(agent_id), keys.inbox(agent_id), server_timeout)
            )
        reply = await self.redis.execute_packed(packed, takes=True)
        if reply is None:
            return None
        return message_from_json(reply[1], reply[0])

    async def try_receive(self, agent_id: AgentId) -> Message | None:
        """The next message if there is one, urgent queue first, without waiting."""
        for key in (self.keys.urgent(agent_id), self.keys.inbox(agent_id)):
            raw = await self.redis.execute("LPOP", key)
            if raw is not None:
                return message_from_json(raw, key)
        return None

    async def inbox_len(self, agent_id: AgentId) -> int:
        n: int = await self.redis.execute("LLEN", self.keys.inbox(agent_id))
        return n

    async def urgent_len(self, agent_id: AgentId) -> int:
        n: int = await self.redis.execute("LLEN", self.keys.urgent(agent_id))
        return n

    async def pending_counts(self, agent_ids: Sequence[AgentId]) -> dict[AgentId, tuple[int, int]]:
        """``(inbox, urgent)`` lengths of many agents in one round trip."""
        pipe = self.redis.pipeline()
        for aid in agent_ids:
            pipe.cmd("LLEN", self.keys.inbox(aid)).cmd("LLEN", self.keys.urgent(aid))
        # A queue key of the wrong type counts as empty, with a warning.
        replies = await pipe.execute(raise_on_error=False) if agent_ids else []
        return {
            aid: (
                reply_or(replies[2 * i], self.keys.inbox(aid), 0),
                reply_or(replies[2 * i + 1], self.keys.urgent(aid), 0),
            )
            for i, aid in enumerate(agent_ids)
        }

    async def peek(self, agent_id: AgentId, n: int = -1, *, urgent: bool = False) -> list[Message]:
        """Up to ``n`` queued messages without removing them (corrupt ones skipped)."""
        key = self.keys.urgent(agent_id) if urgent else self.keys.inbox(agent_id)
        raw: list[str] = await self.redis.execute("LRANGE", key, 0, n - 1 if n > 0 else -1)
        return decode_messages(raw, key)

    async def peek_many(
        self, agent_ids: Sequence[AgentId], n: int = -1
    ) -> dict[AgentId, tuple[list[Message], list[Message]]]:
        """``(urgent, inbox)`` messages of many agents in one round trip."""
        stop = n - 1 if n > 0 else -1
        pipe = self.redis.pipeline()
        for aid in agent_ids:
            pipe.cmd("LRANGE", self.keys.urgent(aid), 0, stop)
            pipe.cmd("LRANGE", self.keys.inbox(aid), 0, stop)
        replies = await pipe.execute() if agent_ids else []
        out = {}
        for i, aid in enumerate(agent_ids):
            out[aid] = (
                decode_messages(replies[2 * i], self.keys.urgent(aid)),
                decode_messages(replies[2 * i + 1], self.keys.inbox(aid)),
            )
        return out

    async def remove_queued(self, agent_id: AgentId, raw_items: Sequence[str]) -> int:
        """Remove exact raw messages from an agent's inbox and urgent queue."""
        pipe = self.redis.pipeline()
        for raw in raw_items:
            pipe.cmd("LREM", self.keys.inbox(agent_id), 1, raw)
            pipe.cmd("LREM", self.keys.urgent(agent_id), 1, raw)
        return sum(await pipe.execute()) if raw_items else 0

    async def raw_queue(self, agent_id: AgentId, *, urgent: bool = False) -> list[str]:
        key = self.keys.urgent(agent_id) if urgent else self.keys.inbox(agent_id)
        items: list[str] = await self.redis.execute("LRANGE", key, 0, -1)
        return items

    # --- lossless hand-off for the runtime ----------------------------------------------




    async def processing(self, agent_id: AgentId) -> list[str]:
        """Raw messages taken but not yet acknowledged, in the order taken."""
        items: list[str] = await self.redis.execute(
            "LRANGE", self.keys.processing(agent_id), 0, -1
        )
        return items

    async def processing_len(self, agent_id: AgentId) -> int:
        n: int = await self.redis.execute("LLEN", self.keys.processing(agent_id))
        return n


    async def requeue_processing(self, agent_id: AgentId) -> int:
        """Return every unacknowledged message to the head of its queue, in order.

        Messages the runtime took from the urgent queue go back there, the
        others to the inbox.
        """
        k = self.keys
        n: int = await REQUEUE_PROCESSING(
            self.redis,
            [k.processing(agent_id), k.inbox(agent_id), k.urgent(agent_id),
             k.inflight_urgent(agent_id), k.batch(agent_id)],
            [],
        )
        return n

    # --- events -----------------------------------------------------------------------

    async def emit(self, event: Event) -> None:
        """Append an event to the town stream and to the agent/mission streams it names."""
        data = event_to_json(event)
        fields = ("event_type", event.event_type.value, "data", data)
        pipe = self.redis.pipeline()
        pipe.cmd("XADD", self.keys.events, "MAXLEN", "~", EVENTS_MAXLEN, "*", *fields)
        seen: set[AgentId] = set()
        for aid in (event.agent_id, event.parent_agent_id, event.child_agent_id):
            if aid is not None and aid not in seen:
                seen.add(aid)
                pipe.cmd("XADD", self.keys.agent_events(aid), "MAXLEN", "~",
                         AGENT_EVENTS_MAXLEN, "*", *fields)
        if event.mission_id:
            pipe.cmd("XADD", self.keys.mission_events_stream(event.mission_id), "MAXLEN", "~",
                     MISSION_EVENTS_MAXLEN, "*", *fields)
        await pipe.execute()

    def events_stream(self, agent_id: AgentId | None = None, mission_id: str | None = None) -> str:
        if agent_id is not None:
            return self.keys.agent_events(agent_id)
        if mission_id is not None:
            return self.keys.mission_events_stream(mission_id)
        return self.keys.events

    async def recent_events(self, count: int, stream: str | None = None, *,
                            before: str | None = None) -> list[tuple[str, Event]]:
        """The newest ``count`` events (older than entry ``before`` if given), oldest first.

        Returns ``(entry id, event)`` pairs; corrupt entries are skipped.
        """
        key = stream or self.keys.events
        end = "+" if before is None else f"({before}"
        entries = await self.redis.execute("XREVRANGE", key, end, "-", "COUNT", count)
        return list(reversed(_decode_entries(entries or [], key)))

    async def events_after(self, last_id: str, *, stream: str | None = None,
                           count: int = 100, block_ms: int | None = None
                           ) -> list[tuple[str, Event]]:
        """Events strictly after ``last_id``; ``block_ms`` waits for new ones (XREAD BLOCK)."""
        key = stream or self.keys.events
        args: list[str | int] = ["XREAD", "COUNT", count]
        if block_ms is not None:
            args += ["BLOCK", block_ms]
        reply = await self.redis.execute(*args, "STREAMS", key, last_id)
        if not reply:
            return []
        return _decode_entries(reply[0][1], key)


class BroadcastStream:
    """Decoded broadcast messages of one subscription (corrupt ones skipped)."""

    def __init__(self, pubsub: PubSub, channel_name: str) -> None:
        self._pubsub = pubsub
        self._name = channel_name

    async def receive(self) -> Message:
        while True:
            item = await self._pubsub.get_message()
            try:
                return message_from_json(item.data, self._name)
            except CorruptRecordError as exc:
                log.warning("skipping corrupt broadcast: %s", exc)

    def __aiter__(self) -> BroadcastStream:
        return self

    async def __anext__(self) -> Message:
        return await self.receive()


def reply_or(reply: Any, key: str, default: Any) -> Any:
    """One reply of a pipeline run with ``raise_on_error=False``, or ``default``.

    An error reply (e.g. WRONGTYPE: ``key`` holds another type, written by
    something else) is logged as a warning, so listings skip it instead of failing.
    """
    if isinstance(reply, ResponseError):
        log.warning("skipping %s: %s", key, reply)
        return default
    return reply


def decode_messages(raw_items: Sequence[str], where: str) -> list[Message]:
    out = []
    for raw in raw_items:
        try:
            out.append(message_from_json(raw, where))
        except CorruptRecordError as exc:
            log.warning("skipping corrupt message: %s", exc)
    return out


def _decode_entries(entries: list[list[object]], key: str) -> list[tuple[str, Event]]:
    out = []
    for entry_id, flat in entries:
        items = list(flat)  # type: ignore[call-overload]
        fields = dict(zip(items[::2], items[1::2], strict=True))
        try:
            out.append((str(entry_id), event_from_json(fields.get("data", ""), key)))
        except CorruptRecordError as exc:
            log.warning("skipping corrupt event %s: %s", entry_id, exc)
    return out
