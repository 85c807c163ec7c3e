"""tinytown.redis against the session's real redis-server; redis-py reads back."""

import math
import time
from collections.abc import Iterator

import pytest
import redis as redispy
import trio

from tinytown.errors import NoScriptError, RedisError, ResponseError, WatchError
from tinytown.redis.client import Redis, open_redis
from tinytown.redis.connection import task_is_cancelled
from tinytown.redis.resp import pack_command, pack_head, pack_tail
from tinytown.redis.script import Script
from tinytown.redis.url import ConnectionSettings


@pytest.fixture
def reference(redis_settings: ConnectionSettings) -> Iterator[redispy.Redis]:
    """redis-py, the independent reference client."""
    client = redispy.Redis(unix_socket_path=redis_settings.unix_path, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def raw_reference(redis_settings: ConnectionSettings) -> Iterator[redispy.Redis]:
    client = redispy.Redis(unix_socket_path=redis_settings.unix_path)
    yield client
    client.close()


async def test_basic_commands_and_decoding(
    redis: Redis, town_name: str, reference: redispy.Redis
) -> None:
    key = f"tt:{town_name}:k"
    assert await redis.execute("PING") == "PONG"
    assert await redis.execute("SET", key, "héllo ✓") == "OK"
    assert await redis.execute("GET", key) == "héllo ✓"
    assert reference.get(key) == "héllo ✓"
    assert await redis.execute("GET", f"{key}:missing") is None
    assert await redis.execute("INCRBY", f"{key}:n", 41) == 41
    assert await redis.execute("INCRBYFLOAT", f"{key}:f", 1.5) == "1.5"
    assert await redis.execute("RPUSH", f"{key}:l", "a", b"b", 3) == 3
    assert await redis.execute("LRANGE", f"{key}:l", 0, -1) == ["a", "b", "3"]
    assert await redis.execute("HSET", f"{key}:h", "f", "v") == 1
    assert await redis.execute("HGETALL", f"{key}:h") == ["f", "v"]
    reference.xadd(f"{key}:s", {"a": "1"}, id="1-0")
    assert await redis.execute("XRANGE", f"{key}:s", "-", "+") == [["1-0", ["a", "1"]]]
    assert await redis.execute("BLPOP", f"{key}:empty", 0.01) is None
    assert await redis.execute("EXISTS", key, f"{key}:missing") == 1


async def test_large_values_and_pipelines(redis: Redis, town_name: str) -> None:
    key = f"tt:{town_name}:big"
    big = "ü" * 3_000_000  # 6 MB: many partial sends and receives
    assert await redis.execute("SET", key, big) == "OK"
    assert await redis.execute("GET", key) == big
    pipe = redis.pipeline()
    for i in range(20_000):
        pipe.cmd("ECHO", f"{i}")
    assert await pipe.execute() == [f"{i}" for i in range(20_000)]
    assert await redis.execute("STRLEN", key) == 6_000_000


async def test_non_utf8_bytes_round_trip(
    redis: Redis, town_name: str, raw_reference: redispy.Redis
) -> None:
    key = f"tt:{town_name}:bin"
    blob = bytes(range(256))
    raw_reference.set(key, blob)
    text = await redis.execute("GET", key)
    assert isinstance(text, str)
    await redis.execute("SET", f"{key}:copy", text)
    assert raw_reference.get(f"{key}:copy") == blob


async def test_error_replies(redis: Redis, town_name: str) -> None:
    key = f"tt:{town_name}:str"
    await redis.execute("SET", key, "x")
    with pytest.raises(ResponseError) as info:
        await redis.execute("LPUSH", key, "y")
    assert info.value.code == "WRONGTYPE"
    with pytest.raises(ResponseError) as info:
        await redis.execute("NOSUCHCOMMAND")
    assert info.value.code == "ERR"
    with pytest.raises(NoScriptError):
        await redis.execute("EVALSHA", "0" * 40, 0)
    # The connection is still in step after errors.
    assert await redis.execute("ECHO", "still fine") == "still fine"
    assert len(redis.pool.idle) == 1


async def test_pipeline_is_one_round_trip(
    redis: Redis, town_name: str, reference: redispy.Redis
) -> None:
    key = f"tt:{town_name}:list"
    pipe = redis.pipeline()
    for i in range(500):
        pipe.cmd("RPUSH", key, i)
    pipe.cmd("LLEN", key).cmd("LRANGE", key, 0, 2)
    assert len(pipe) == 502
    before = redis.round_trips
    replies = await pipe.execute()
    assert redis.round_trips == before + 1
    assert replies[:3] == [1, 2, 3]
    assert replies[-2:] == [500, ["0", "1", "2"]]
    assert reference.llen(key) == 500
    assert len(pipe) == 0
    assert await pipe.execute() == []
    assert redis.round_trips == before + 1
    assert await pipe.cmd("LLEN", key).execute() == [500]


async def test_pipeline_errors(redis: Redis, town_name: str) -> None:
    key = f"tt:{town_name}:s"
    await redis.execute("SET", key, "x")
    pipe = redis.pipeline().cmd("INCR", f"{key}:n").cmd("LPUSH", key, "y").cmd("INCR", f"{key}:n")
    with pytest.raises(ResponseError) as info:
        await pipe.execute()
    assert info.value.code == "WRONGTYPE"
    assert await redis.execute("GET", f"{key}:n") == "2"  # every command ran
    replies = await (
        redis.pipeline()
        .cmd("INCR", f"{key}:n")
        .cmd("LPUSH", key, "y")
        .execute(raise_on_error=False)
    )
    assert replies[0] == 3
    assert isinstance(replies[1], ResponseError)
    assert replies[1].code == "WRONGTYPE"


async def test_transaction(redis: Redis, town_name: str, reference: redispy.Redis) -> None:
    key = f"tt:{town_name}:tx"
    replies = await (
        redis.pipeline(transaction=True).cmd("SET", key, "1").cmd("INCR", key).cmd("GET", key)
    ).execute()
    assert replies == ["OK", 2, "2"]
    assert reference.get(key) == "2"
    # A command refused while queuing aborts the whole transaction.
    pipe = redis.pipeline(transaction=True).cmd("SET", key, "9").cmd("GET")
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        await pipe.execute(raise_on_error=False)
    assert reference.get(key) == "2"
    # A command failing at run time does not roll back the others.
    replies = await (
        redis.pipeline(transaction=True).cmd("LPUSH", key, "x").cmd("INCR", key)
    ).execute(raise_on_error=False)
    assert isinstance(replies[0], ResponseError)
    assert replies[1] == 3


async def test_watch_conflict_and_retry(
    redis: Redis, town_name: str, reference: redispy.Redis
) -> None:
    key = f"tt:{town_name}:balance"
    reference.set(key, 10)

    async def add_one_while_someone_writes() -> None:
        async with redis.watch(key) as tx:
            balance = int(await tx.execute("GET", key))
            reference.set(key, 100)  # a concurrent writer
            await tx.pipeline(transaction=True).cmd("SET", key, balance + 1).execute()

    with pytest.raises(WatchError):
        await add_one_while_someone_writes()
    assert reference.get(key) == "100"
    async with redis.watch(key) as tx:
        balance = int(await tx.execute("GET", key))
        assert await tx.pipeline().cmd("SET", key, balance + 1).execute() == ["OK"]
        assert not tx.watching
    assert reference.get(key) == "101"
    assert len(redis.pool.idle) == 1  # a WatchError does not cost the connection


async def test_watch_left_without_exec_unwatches(
    redis_settings: ConnectionSettings, town_name: str, reference: redispy.Redis
) -> None:
    key = f"tt:{town_name}:w"
    async with open_redis(redis_settings, max_connections=1) as redis:
        async with redis.watch(key) as tx:
            assert tx.watching
            await tx.execute("GET", key)
        reference.set(key, "changed")
        # Same (only) connection: a leaked WATCH would abort this EXEC.
        assert await redis.pipeline(transaction=True).cmd("SET", key, "mine").execute() == ["OK"]
        (conn,) = redis.pool.idle
        with pytest.raises(KeyError):
            async with redis.watch(key):
                raise KeyError
        assert conn.closed  # left by an exception while watching: not reused
        assert await redis.execute("GET", key) == "mine"


async def test_script_falls_back_to_eval(redis: Redis, town_name: str) -> None:
    script = Script(f"-- {town_name}\nreturn {{KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}}")
    before = redis.round_trips
    assert await script(redis, [f"tt:{town_name}:k"], ["v", 41]) == [f"tt:{town_name}:k", "v", 42]
    assert redis.round_trips == before + 2  # NOSCRIPT, then EVAL
    assert await redis.execute("SCRIPT", "EXISTS", script.sha) == [1]
    assert await script(redis, ["k"], ["v", 1]) == ["k", "v", 2]
    assert redis.round_trips == before + 4  # + SCRIPT EXISTS, then EVALSHA
    failing = Script(f"-- {town_name}\nreturn redis.error_reply('BOOM it failed')")
    await failing.load(redis)
    with pytest.raises(ResponseError) as info:
        await failing(redis, [], [])
    assert info.value.code == "BOOM"


async def test_pubsub(redis: Redis, town_name: str, reference: redispy.Redis) -> None:
    channel = f"tt:{town_name}:events"
    async with redis.open_pubsub() as pubsub:
        await pubsub.subscribe(channel, f"{channel}:other")
        assert pubsub.channels == {channel, f"{channel}:other"}
        assert reference.publish(channel, "hello") == 1
        first = await pubsub.get_message()
        assert (first.channel, first.data) == (channel, "hello")
        for i in range(3):
            reference.publish(channel, str(i))
        received = []
        async for message in pubsub:
            received.append(message.data)
            if len(received) == 3:
                break
        assert received == ["0", "1", "2"]


async def test_pubsub_subscribe_while_another_task_waits(redis: Redis, town_name: str) -> None:
    channel = f"tt:{town_name}:c"
    async with redis.open_pubsub() as pubsub:
        await pubsub.subscribe(f"{channel}:0")
        received: list[str] = []

        async def consume() -> None:
            for _ in range(2):
                received.append((await pubsub.get_message()).data)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await trio.testing.wait_all_tasks_blocked()  # consume() is now blocked reading
            await pubsub.subscribe(f"{channel}:1")
            assert await redis.execute("PUBLISH", f"{channel}:1", "one") == 1
            assert await redis.execute("PUBLISH", f"{channel}:0", "zero") == 1
        assert received == ["one", "zero"]
        # A cancelled get_message loses nothing.
        with trio.move_on_after(0.01):
            await pubsub.get_message()
        await redis.execute("PUBLISH", f"{channel}:0", "after")
        assert (await pubsub.get_message()).data == "after"


async def test_execute_is_a_checkpoint_and_sends_nothing_when_cancelled(
    redis: Redis, town_name: str, reference: redispy.Redis
) -> None:
    key = f"tt:{town_name}:never"
    with trio.CancelScope() as scope:
        scope.cancel()
        await redis.execute("SET", key, "x")
    assert scope.cancelled_caught
    with trio.CancelScope() as scope:
        scope.cancel()
        await redis.execute_packed(pack_command(("SET", key, "x")))
    assert scope.cancelled_caught
    with trio.CancelScope() as scope:
        scope.cancel()
        await redis.execute_packed(pack_command(("BLPOP", key, 0)), takes=True)
    assert scope.cancelled_caught
    assert reference.get(key) is None
    assert len(redis.pool.idle) == 1  # nothing was sent, the connection is clean


async def test_task_is_cancelled_agrees_with_trio() -> None:
    # The command path's cancel test (no coroutine) reads trio's own state:
    # same answer as the public current_effective_deadline() in every case.
    def public() -> bool:
        return trio.current_effective_deadline() == -math.inf

    seen: list[tuple[str, bool, bool]] = []

    def look(where: str) -> None:
        seen.append((where, task_is_cancelled(), public()))

    look("outside")
    with trio.CancelScope() as outer:  # noqa: ASYNC100  (the state is read, no checkpoint wanted)
        outer.cancel()
        look("cancelled")
        with trio.CancelScope(shield=True):  # noqa: ASYNC100
            look("shielded")
        with trio.CancelScope():  # noqa: ASYNC100
            look("nested")
    with trio.move_on_after(0):  # noqa: ASYNC100  (a past deadline cancels on entry)
        look("past deadline")
    with trio.move_on_after(0.01):
        look("deadline ahead")
        await trio.sleep(0.02)  # cancelled here
    with trio.move_on_after(0.01):
        time.sleep(0.02)  # noqa: ASYNC251  (past the deadline without a checkpoint)
        await trio.lowlevel.cancel_shielded_checkpoint()  # the scheduler delivers it, no raise
        look("deadline passed meanwhile")
    look("after")
    assert seen == [
        ("outside", False, False),
        ("cancelled", True, True),
        ("shielded", False, False),
        ("nested", True, True),
        ("past deadline", True, True),
        ("deadline ahead", False, False),
        ("deadline passed meanwhile", True, True),
        ("after", False, False),
    ]


async def test_closed_client_refuses_commands(redis_settings: ConnectionSettings) -> None:
    async with open_redis(redis_settings) as redis:
        pass
    assert redis.pool.idle == ()
    with pytest.raises(RedisError, match="closed"):
        await redis.execute("PING")


@pytest.mark.parametrize("last", [b"", b"payload", "héllo ✓".encode(), b"\xff\x00" * 5000])
async def test_commands_packed_once_then_completed(
    redis: Redis, town_name: str, raw_reference: redispy.Redis, last: bytes
) -> None:
    key = f"tt:{town_name}:queue:é\udcff"  # a lone surrogate: a non-UTF-8 byte read back
    head = pack_head(("RPUSH", key), 3)
    assert pack_tail(head, last) == pack_command(("RPUSH", key, last))
    assert await redis.execute_packed(pack_tail(head, last)) == 1
    assert await redis.execute_packed(pack_tail(head, b"second")) == 2
    raw_key = key.encode("utf-8", "surrogateescape")
    assert raw_reference.lrange(raw_key, 0, -1) == [last, b"second"]
