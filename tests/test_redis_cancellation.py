"""Cancellation at random points never desynchronises a connection nor loses a value."""

import os
import random
from collections import Counter

import trio

from tinytown.redis.client import Redis, open_redis
from tinytown.redis.resp import pack_command

ITERATIONS = 1000


async def test_cancellation_stress(redis: Redis, town_name: str) -> None:
    key = f"tt:{town_name}:queue"
    rng = random.Random(int(os.environ.get("TT_STRESS_SEED", "20240601")))
    pushed: list[str] = []
    popped: list[str] = []
    mismatches: list[tuple[object, object]] = []
    done = trio.Event()

    async with open_redis(redis.settings, max_connections=8) as client:

        async def producer() -> None:
            n = 0
            while not done.is_set():
                value = f"v{n}"
                n += 1
                await redis.execute("RPUSH", key, value)
                pushed.append(value)
                await trio.sleep(rng.uniform(0, 0.0005))

        async def blpop_with_deadline() -> None:
            with trio.move_on_after(rng.choice([0, 1e-6, 1e-5, 1e-4, rng.uniform(0, 0.002)])):
                reply = await client.execute("BLPOP", key, 0)
                popped.append(reply[1])

        async def blpop_cancelled_by_other_task() -> None:
            async with trio.open_nursery() as nursery:
                scope = trio.CancelScope()

                async def pop() -> None:
                    with scope:
                        reply = await client.execute("BLPOP", key, 0)
                        popped.append(reply[1])

                nursery.start_soon(pop)
                for _ in range(rng.randrange(4)):
                    await trio.lowlevel.checkpoint()
                await trio.sleep(rng.choice([0, rng.uniform(0, 0.001)]))
                scope.cancel()

        async def pipeline_with_deadline() -> None:
            token = f"t{rng.random()}"
            with trio.move_on_after(rng.choice([0, 1e-6, 1e-5, rng.uniform(0, 0.0005)])):
                replies = await (
                    client.pipeline().cmd("ECHO", token).cmd("LLEN", key).cmd("PING").execute()
                )
                if replies[0] != token or replies[2] != "PONG" or not isinstance(replies[1], int):
                    mismatches.append((token, replies))

        async def echo() -> None:
            token = f"e{rng.random()}"
            reply = await client.execute("ECHO", token)
            if reply != token:
                mismatches.append((token, reply))

        actions = [blpop_with_deadline, blpop_cancelled_by_other_task, pipeline_with_deadline]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            for i in range(ITERATIONS):
                await rng.choice(actions)()
                if i % 10 == 0:
                    async with trio.open_nursery() as burst:  # several connections at once
                        for _ in range(rng.randrange(1, 5)):
                            burst.start_soon(echo)
            done.set()

        assert mismatches == []
        remaining = await redis.execute("LRANGE", key, 0, -1)
        counts = Counter(popped)
        assert [value for value, count in counts.items() if count > 1] == []
        lost = set(pushed) - set(popped) - set(remaining)
        assert lost == set(), f"{len(lost)} values lost of {len(pushed)} pushed"
        assert sorted(popped + remaining, key=lambda v: int(v[1:])) == pushed
        # Every pooled connection is still in step: each answers its own ECHO.
        assert client.pool.in_use == 0
        for conn in client.pool.idle:
            assert not conn.closed
            token = f"final-{id(conn)}"
            assert await conn.request(pack_command(("ECHO", token))) == token
            assert await conn.request(pack_command(("PING",))) == "PONG"
        print(f"pushed={len(pushed)} popped={len(popped)} left={len(remaining)}")
