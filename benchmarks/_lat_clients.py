"""Each client measured by the latency benchmark, behind the harness' ops protocols.

* ``ours`` — :class:`tinytown.channel.Channel`: ``send`` (RPUSH of the encoded
  :class:`~tinytown.models.Message`) and ``receive`` (BLPOP on the urgent queue
  and the inbox, then the JSON decoded back into a ``Message``).
* ``ours-client`` — our Redis client alone (``execute("RPUSH"|"BLPOP", …)``) on the
  same payload, without the message codec.
* ``coredis`` on Trio (anyio backend), ``redis-py`` sync (threads) and
  ``redis-py`` through ``trio.to_thread``: RPUSH/BLPOP of the same payload
  string, replies decoded to ``str`` as ours are.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any

import trio

from benchmarks._common import BenchServer
from benchmarks._lat_harness import Keys2


def make_keys(town: str) -> tuple[Keys2, Any, Any]:
    """Fresh inbox keys plus the request and reply ``Message`` objects of one series."""
    from tinytown.codec import message_to_json
    from tinytown.keys import Keys
    from tinytown.models import AgentId, Message, MessageType

    responder, requester = AgentId.new(), AgentId.new()
    request = Message(
        from_=requester,
        to=responder,
        kind=MessageType.TaskAssign(task_id=str(uuid.uuid4())),
    )
    reply = Message(
        from_=responder,
        to=requester,
        kind=MessageType.Confirmation(),
        correlation_id=request.id,
    )
    keys = Keys(town)
    spec = Keys2(
        request=keys.inbox(responder),
        reply=keys.inbox(requester),
        payload=message_to_json(request),
        reply_payload=message_to_json(reply),
        request_id=responder,
        reply_id=requester,
    )
    return spec, request, reply


# --- ours ------------------------------------------------------------------------------


class ChannelOps:
    """Hand-off through :class:`Channel` (encode on send, decode on receive)."""

    def __init__(self, channel: Any, keys: Keys2, request: Any, reply: Any) -> None:
        self.channel = channel
        self.keys = keys
        self.request = request
        self.reply = reply

    async def push_request(self) -> None:
        await self.channel.send(self.request)

    async def pop_request(self) -> Any:
        return await self.channel.receive(self.keys.request_id)

    async def push_reply(self, request: Any) -> None:
        await self.channel.send(self.reply)

    async def pop_reply(self) -> Any:
        return await self.channel.receive(self.keys.reply_id)

    async def ping(self) -> None:
        await self.channel.redis.execute("PING")


class OurClientOps:
    """Hand-off with our Redis client alone (no message codec).

    The ops are ``redis.execute`` itself with its arguments bound (``functools.partial``),
    not a coroutine of the harness around it: like the floor's, the timed path holds
    no frame that is not the client's. Every call still packs its command.
    """

    def __init__(self, redis: Any, keys: Keys2) -> None:
        self.redis = redis
        self.keys = keys
        execute = redis.execute
        self.push_request = partial(execute, "RPUSH", keys.request, keys.payload)
        self.pop_request = partial(execute, "BLPOP", keys.request, 0)
        self.pop_reply = partial(execute, "BLPOP", keys.reply, 0)
        self.ping = partial(execute, "PING")

    async def push_reply(self, request: Any) -> None:
        await self.redis.execute("RPUSH", self.keys.reply, self.keys.reply_payload)


@asynccontextmanager
async def open_ours(server: BenchServer, town: str, codec: bool) -> AsyncIterator[Any]:
    """Our client (``codec=False``) or a Channel over it (``codec=True``)."""
    from tinytown.channel import Channel
    from tinytown.redis.client import open_redis

    keys, request, reply = make_keys(town)
    async with open_redis(server.url) as redis:
        if codec:
            yield ChannelOps(Channel(redis, town), keys, request, reply)
        else:
            yield OurClientOps(redis, keys)


# --- coredis ---------------------------------------------------------------------------


class CoredisOps:
    """coredis on Trio (it runs on anyio)."""

    def __init__(self, client: Any, keys: Keys2) -> None:
        self.client = client
        self.keys = keys

    async def push_request(self) -> None:
        await self.client.rpush(self.keys.request, [self.keys.payload])

    async def pop_request(self) -> Any:
        return await self.client.blpop([self.keys.request], timeout=0)

    async def push_reply(self, request: Any) -> None:
        await self.client.rpush(self.keys.reply, [self.keys.reply_payload])

    async def pop_reply(self) -> Any:
        return await self.client.blpop([self.keys.reply], timeout=0)

    async def ping(self) -> None:
        await self.client.ping()


@asynccontextmanager
async def open_coredis(server: BenchServer, town: str) -> AsyncIterator[CoredisOps]:
    import coredis

    keys, _, _ = make_keys(town)
    if server.unix_path is not None:
        client: Any = coredis.Redis(unix_socket_path=str(server.unix_path), decode_responses=True)
    else:
        client = coredis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)
    async with client:
        yield CoredisOps(client, keys)


# --- redis-py --------------------------------------------------------------------------


class RedisPyOps:
    """redis-py, blocking; thread-safe through its connection pool."""

    def __init__(self, client: Any, keys: Keys2) -> None:
        self.client = client
        self.keys = keys

    def push_request(self) -> None:
        self.client.rpush(self.keys.request, self.keys.payload)

    def pop_request(self) -> Any:
        return self.client.blpop([self.keys.request], 0)

    def push_reply(self, request: Any) -> None:
        self.client.rpush(self.keys.reply, self.keys.reply_payload)

    def pop_reply(self) -> Any:
        return self.client.blpop([self.keys.reply], 0)

    def ping(self) -> None:
        self.client.ping()


class ToThreadOps:
    """redis-py called from Trio through ``trio.to_thread.run_sync``."""

    def __init__(self, sync: RedisPyOps) -> None:
        self.sync = sync

    async def push_request(self) -> None:
        await trio.to_thread.run_sync(self.sync.push_request)

    async def pop_request(self) -> Any:
        return await trio.to_thread.run_sync(self.sync.pop_request)

    async def push_reply(self, request: Any) -> None:
        await trio.to_thread.run_sync(self.sync.push_reply, request)

    async def pop_reply(self) -> Any:
        return await trio.to_thread.run_sync(self.sync.pop_reply)

    async def ping(self) -> None:
        await trio.to_thread.run_sync(self.sync.ping)


def redis_py_client(server: BenchServer) -> Any:
    import redis

    if server.unix_path is not None:
        return redis.Redis(unix_socket_path=str(server.unix_path), decode_responses=True)
    return redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)


@contextmanager
def open_redis_py(server: BenchServer, town: str) -> Iterator[RedisPyOps]:
    keys, _, _ = make_keys(town)
    client = redis_py_client(server)
    try:
        yield RedisPyOps(client, keys)
    finally:
        client.close()
        client.connection_pool.disconnect()


def redis_py_one_thread_handoff(server: BenchServer, town: str, n: int, warm: int) -> list[int]:
    """redis-py without a second thread: BLPOP sent on one connection, RPUSH on another.

    ``send_command("BLPOP")`` leaves the BLPOP pending; the timed part is the
    RPUSH (a full round trip through the client) and then ``read_response`` of
    the BLPOP reply, whose bytes have usually arrived by then. No GIL hand-off
    between threads, so this is redis-py's cost at its best.
    """
    from time import perf_counter_ns

    from benchmarks._common import blocked_clients
    from benchmarks._lat_harness import wait_blocked_sync

    keys, _, _ = make_keys(town)
    client = redis_py_client(server)
    pool = client.connection_pool
    conn = pool.get_connection()
    probe = server.connect()
    samples: list[int] = []
    try:
        base = blocked_clients(probe)
        for i in range(warm + n):
            conn.send_command("BLPOP", keys.request, 0)
            wait_blocked_sync(probe, base + 1)
            t0 = perf_counter_ns()
            client.rpush(keys.request, keys.payload)
            conn.read_response()
            t1 = perf_counter_ns()
            if i >= warm:
                samples.append(t1 - t0)
    finally:
        probe.close()
        pool.release(conn)
        client.close()
        pool.disconnect()
    return samples
