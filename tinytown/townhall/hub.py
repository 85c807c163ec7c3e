"""One reader of the town's event stream per process, fanned out to every SSE subscriber.

The hub blocks on ``XREAD`` with one pooled connection while anyone listens
(none otherwise), so Redis connections do not grow with subscribers. Each
subscriber has a bounded buffer; one that falls too far behind is dropped
(its stream ends, and the client resumes with ``Last-Event-ID``), so a slow
client never stalls the others.

Resuming without gaps or duplicates: a subscriber registers first (from
then on it gets every live entry after the hub's position), then reads the
history after its ``Last-Event-ID``, and skips live entries it has already
seen (stream ids only grow).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Final

import attrs
import trio

from tinytown.errors import RedisError
from tinytown.services.events import StreamEntry, read_after

if TYPE_CHECKING:
    from tinytown.town import Town

BLOCK_MS: Final = 1000
KEEPALIVE_S: Final = 15.0
BATCH: Final = 200
SUBSCRIBER_BUFFER: Final = 1000
RETRY_S: Final = 1.0
log = logging.getLogger("tinytown.townhall.events")


def stream_id_key(entry_id: str) -> tuple[int, int]:
    """``"1712345678901-3"`` as a sortable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@attrs.define(eq=False)
class Subscription:
    """A subscriber's view: live entries after ``position`` arrive on ``receive``."""

    position: str
    send: trio.MemorySendChannel[StreamEntry | None]
    receive: trio.MemoryReceiveChannel[StreamEntry | None]


class EventHub:
    """Fans the entries of one Redis stream out to subscribers (see the module docstring)."""

    def __init__(self, town: Town, stream: str) -> None:
        self.town = town
        self.stream = stream
        self.subscribers: set[Subscription] = set()
        self.position: str | None = None
        self._wanted = trio.Event()
        self._positioned = trio.Event()
        self.closed = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Read and fan out while there are subscribers; runs until cancelled."""
        task_status.started()
        quiet_since = trio.current_time()
        while True:
            if not self.subscribers:
                self._wanted = trio.Event()
                self.position = None
                self._positioned = trio.Event()
                await self._wanted.wait()
            try:
                if self.position is None:
                    self.position = await self._latest_id()
                    self._positioned.set()
                self.position, batch = await read_after(
                    self.town, self.stream, self.position, block_ms=BLOCK_MS, count=BATCH
                )
            except RedisError as exc:
                log.warning("event stream %s: %s; retrying", self.stream, exc)
                await trio.sleep(RETRY_S)
                continue
            if not batch and trio.current_time() - quiet_since < KEEPALIVE_S:
                continue
            quiet_since = trio.current_time()
            items: list[StreamEntry | None] = [*batch] if batch else [None]  # None: keep-alive
            for entry in items:
                for sub in list(self.subscribers):
                    try:
                        sub.send.send_nowait(entry)
                    except trio.WouldBlock:
                        log.warning("event subscriber fell behind; dropping it")
                        self._drop(sub)

    def close(self) -> None:
        """End every subscription (server shutdown); later ones end at once."""
        self.closed = True
        self._positioned.set()  # wake subscribers still waiting for a position
        for sub in list(self.subscribers):
            self._drop(sub)

    async def _latest_id(self) -> str:
        last = await self.town.redis.execute("XREVRANGE", self.stream, "+", "-", "COUNT", 1)
        return str(last[0][0]) if last else "0-0"

    def _drop(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)
        sub.send.close()

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """Register a subscriber; its position is known when this enters."""
        send, receive = trio.open_memory_channel[StreamEntry | None](SUBSCRIBER_BUFFER)
        while not self.closed:
            self._wanted.set()
            await self._positioned.wait()
            # No checkpoint from here to add(): the reader cannot go idle in between.
            if self.position is not None:
                break
        sub = Subscription(self.position or "0-0", send, receive)
        if self.closed:
            send.close()  # the server is shutting down: the stream ends at once
        else:
            self.subscribers.add(sub)
        try:
            yield sub
        finally:
            self._drop(sub)
            receive.close()

    async def entries(
        self, sub: Subscription, after: str | None
    ) -> AsyncIterator[StreamEntry | None]:
        """History after ``after`` (if given), then live entries, each once, in order.

        ``None`` items are keep-alive ticks. Ends when the hub drops the subscription.
        """
        last = (-1, -1)
        if after is not None:
            cursor = after
            while True:
                cursor, batch = await read_after(self.town, self.stream, cursor, count=BATCH)
                if not batch:
                    break
                for entry in batch:
                    last = stream_id_key(entry.entry_id)
                    yield entry
        async for item in sub.receive:
            if item is None:
                yield None
                continue
            key = stream_id_key(item.entry_id)
            if key > last:
                last = key
                yield item
