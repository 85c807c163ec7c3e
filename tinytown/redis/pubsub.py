"""Redis publish/subscribe on a dedicated connection.

Usage::

    async with redis.open_pubsub() as pubsub:
        await pubsub.subscribe("tt:town:events")
        async for message in pubsub:
            print(message.channel, message.data)

:meth:`PubSub.subscribe` returns once Redis has confirmed it, so a
message published after ``await pubsub.subscribe(ch)`` is always received.
Confirmations are consumed internally; :meth:`PubSub.get_message` only returns
published messages. One task may wait in :meth:`PubSub.get_message` while
another subscribes: whichever task is reading dispatches what arrives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import attrs
import trio

from tinytown.errors import ConnectionLostError, ResponseError
from tinytown.redis.connection import Connection
from tinytown.redis.resp import pack_command, specialize


@attrs.frozen
class PubSubMessage:
    """A message published on a channel.

    Attributes:
        channel: The channel it was published on.
        data: Its payload.
    """

    channel: str
    data: str


class PubSub:
    """Subscriptions on one connection; open with :meth:`Redis.open_pubsub`.

    Attributes:
        channels: Channels subscribed to (as confirmed by Redis).
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._messages: deque[PubSubMessage] = deque()
        self._send_lock = trio.Lock()
        self._reading = False
        self._progress = trio.Event()
        self._acks_expected = 0
        self._acks_seen = 0
        self._failure: ResponseError | None = None
        self.channels: set[str] = set()

    async def subscribe(self, *channels: str) -> None:
        """Subscribe to channels and wait for Redis to confirm."""
        if not channels:
            raise ValueError("subscribe() needs at least one channel")
        await self._command("SUBSCRIBE", channels, len(channels))

    async def get_message(self) -> PubSubMessage:
        """Wait for the next published message and return it.

        Cancel-safe: a cancelled call loses no message.

        Raises:
            ConnectionLostError: The connection broke; open a new PubSub.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        messages = self._messages
        if messages:
            message = messages.popleft()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return message
        while not messages:
            await self._pump()
        return messages.popleft()

    def __aiter__(self) -> PubSub:
        return self

    async def __anext__(self) -> PubSubMessage:
        return await self.get_message()

    async def _command(self, name: str, names: Iterable[str], acks: int) -> None:
        self._check_usable()
        packed = pack_command((name, *names))
        async with self._send_lock:
            await trio.lowlevel.checkpoint_if_cancelled()
            await self._conn.send(packed)
            self._acks_expected += acks
            target = self._acks_expected
        while self._acks_seen < target:
            await self._pump()

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._conn.closed:
            raise ConnectionLostError(
                f"The pubsub connection to Redis at {self._conn.description} is closed"
            )

    async def _pump(self) -> None:
        """Read and dispatch one reply, or wait while another task does."""
        if self._reading:
            await self._progress.wait()
            return
        self._check_usable()
        self._reading = True
        try:
            self._dispatch(await self._conn.read_reply())
        finally:
            self._reading = False
            self._progress.set()
            self._progress = trio.Event()

    def _dispatch(self, reply: Any) -> None:
        if isinstance(reply, ResponseError):
            # The acknowledgement count can no longer be trusted.
            self._failure = specialize(reply)
            self._conn.close()
            raise self._failure
        kind = reply[0]
        if kind == "message":
            self._messages.append(PubSubMessage(channel=reply[1], data=reply[2]))
        elif kind == "subscribe":
            self._acks_seen += 1
            self.channels.add(reply[1])
