"""Channel against the real Redis: queues, priority, records, events, lossless hand-off."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
import redis as redis_py
import trio

import tinytown.channel as channel_module
from tinytown.channel import Channel
from tinytown.codec import message_from_json
from tinytown.errors import AgentNotFoundError, CorruptRecordError
from tinytown.keys import Keys
from tinytown.models import (
    SUPERVISOR,
    Agent,
    AgentId,
    AgentState,
    Event,
    EventType,
    Message,
    MessageType,
    Priority,
    Task,
    TaskId,
    TaskState,
)
from tinytown.redis.client import Redis, open_redis
from tinytown.redis.url import ConnectionSettings


def now() -> datetime:
    return datetime.now(UTC)


def msg(to: AgentId, text: str, priority: Priority = Priority.NORMAL) -> Message:
    return Message(from_=SUPERVISOR, to=to, kind=MessageType.Task(description=text),
                   priority=priority)


@pytest.fixture
def channel(redis: Redis, town_name: str) -> Channel:
    return Channel(redis, town_name)


async def test_priority_placement_and_urgent_first(channel: Channel) -> None:
    aid = AgentId.new()
    await channel.send(msg(aid, "normal-1"))
    await channel.send(msg(aid, "low", Priority.LOW))
    await channel.send(msg(aid, "high", Priority.HIGH))
    await channel.send_urgent(msg(aid, "urgent"))
    assert await channel.inbox_len(aid) == 3
    got = []
    while (m := await channel.try_receive(aid)) is not None:
        got.append(m.kind.description)  # type: ignore[union-attr]
    assert got == ["urgent", "high", "normal-1", "low"]


async def test_receive_blocks_until_sent_and_times_out(
    channel: Channel, blocked_in: Callable[..., Awaitable[None]]
) -> None:
    aid = AgentId.new()
    assert await channel.receive(aid, timeout=0.05) is None
    sent = msg(aid, "wake up")
    async with trio.open_nursery() as nursery:
        async def later() -> None:
            await blocked_in(channel.redis, "blpop")  # receive() is blocked on the queues
            await channel.send(sent)
        nursery.start_soon(later)
        received = await channel.receive(aid, timeout=5)
    assert received == sent


async def test_corrupt_message_in_queue_is_reported_and_skipped_by_peek(
    channel: Channel, redis: Redis
) -> None:
    aid = AgentId.new()
    await redis.execute("RPUSH", Keys(channel.town).inbox(aid), "{not json")
    await channel.send(msg(aid, "fine"))
    assert [m.kind for m in await channel.peek(aid)] == [MessageType.Task(description="fine")]
    with pytest.raises(CorruptRecordError):
        await channel.receive(aid, timeout=1)
    assert (await channel.receive(aid, timeout=1)) is not None


async def test_ten_thousand_messages_four_senders_one_receiver(
    channel: Channel, redis_settings: ConnectionSettings, town_name: str
) -> None:
    """All arrive exactly once; urgent/high ones before normal ones queued with them."""
    aid = AgentId.new()
    per_sender = 2500
    received: list[Message] = []

    async def sender(n: int) -> None:
        async with open_redis(redis_settings) as client:
            ch = Channel(client, town_name)
            for i in range(per_sender):
                await ch.send(msg(aid, f"{n}:{i}"))

    async with open_redis(redis_settings) as rclient:
        receiver_ch = Channel(rclient, town_name)
        async with trio.open_nursery() as nursery:
            for n in range(4):
                nursery.start_soon(sender, n)
            while len(received) < 4 * per_sender:
                m = await receiver_ch.receive(aid, timeout=10)
                assert m is not None, "receiver starved"
                received.append(m)
    texts = [m.kind.description for m in received]  # type: ignore[union-attr]
    assert len(texts) == len(set(texts)) == 4 * per_sender
    for n in range(4):  # per-sender FIFO
        mine = [int(t.split(":")[1]) for t in texts if t.startswith(f"{n}:")]
        assert mine == sorted(mine)
    assert await channel.inbox_len(aid) == 0


async def test_priority_order_under_a_backlog(channel: Channel) -> None:
    aid = AgentId.new()
    rng = random.Random(7)
    plan = [rng.choice(list(Priority)) for _ in range(400)]
    for i, p in enumerate(plan):
        await channel.send(msg(aid, f"{i}", p))
    await channel.send_urgent(msg(aid, "u1"))
    await channel.send_urgent(msg(aid, "u2"))
    got = []
    while (m := await channel.try_receive(aid)) is not None:
        got.append(m)
    assert [m.kind.description for m in got[:2]] == ["u2", "u1"]  # type: ignore[union-attr]
    rest = got[2:]
    jumpers = [m for m in rest if m.priority.jumps_queue]
    others = [m for m in rest if not m.priority.jumps_queue]
    assert rest == jumpers + others  # every high/urgent before every normal/low
    assert [int(m.kind.description) for m in others] == sorted(  # type: ignore[union-attr]
        int(m.kind.description) for m in others  # type: ignore[union-attr]
    )
    assert [int(m.kind.description) for m in jumpers] == sorted(  # type: ignore[union-attr]
        (int(m.kind.description) for m in jumpers), reverse=True  # type: ignore[union-attr]
    )


async def test_cancelled_receive_loses_nothing(
    redis_settings: ConnectionSettings, town_name: str
) -> None:
    """Cancel a blocked receive 1,000 times while messages flow: none lost, none twice."""
    aid = AgentId.new()
    total = 1000
    got: list[str] = []
    rng = random.Random(11)
    async with open_redis(redis_settings, max_connections=4) as client:
        ch = Channel(client, town_name)

        async def producer() -> None:
            async with open_redis(redis_settings) as other:
                och = Channel(other, town_name)
                for i in range(total):
                    await och.send(msg(aid, str(i)))
                    if i % 7 == 0:
                        await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            for _ in range(total):
                with trio.move_on_after(rng.choice([0, 0.0001, 0.0005, 0.001])):
                    m = await ch.receive(aid, timeout=5)
                    if m is not None:
                        got.append(m.kind.description)  # type: ignore[union-attr]
        while (m := await ch.try_receive(aid)) is not None:
            got.append(m.kind.description)  # type: ignore[union-attr]
        # Every pooled connection still answers in sync.
        for _ in range(8):
            assert await client.execute("ECHO", "still-in-sync") == "still-in-sync"
    # A BLPOP that Redis already served when the cancel arrived still returns its
    # message (the cancellation is raised at the next checkpoint): nothing is lost.
    assert sorted(got, key=int) == [str(i) for i in range(total)]


async def test_runtime_hand_off_is_lossless_under_cancellation(
    redis_settings: ConnectionSettings, town_name: str
) -> None:
    """The runtime's hand-off (wait, take into processing, settle) cancelled at random
    1,000 times while messages flow: every message is handled exactly once."""
    from tinytown.runtime.delivery import Delivery, wait_for_queued

    aid = AgentId.new()
    total = 1000
    handled: list[str] = []
    rng = random.Random(5)
    async with open_redis(redis_settings, max_connections=6) as client, \
            open_redis(redis_settings, max_connections=2) as blocking:
        ch = Channel(client, town_name)
        await ch.set_agent(Agent.new("w", "demo", now(), agent_id=aid))
        delivery = Delivery(client, Keys(town_name), aid)
        assert await delivery.claim("test-host", now()) == 1

        async def producer() -> None:
            async with open_redis(redis_settings) as other:
                och = Channel(other, town_name)
                for i in range(total):
                    if i % 10 == 0:
                        await och.send_urgent(msg(aid, str(i)))
                    else:
                        await och.send(msg(aid, str(i)))
                    await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            # Redelivery may repeat a message, so count distinct ones.
            while len(set(handled)) < total:
                with trio.move_on_after(rng.choice([0, 0.0002, 0.001, 0.01])):
                    await wait_for_queued(blocking, Keys(town_name), aid)
                with trio.move_on_after(rng.choice([0, 0.0005, 1])):
                    batch = await delivery.take_batch(50)
                    assert batch is not None
                    handled.extend(
                        message_from_json(raw).kind.description  # type: ignore[union-attr]
                        for raw in batch.raw
                    )
                    await delivery.settle(batch, count_round=False)
        # A settle cancelled before it ran leaves its batch in processing: redelivered.
        while (batch := await delivery.take_batch(50)) is not None and not batch.empty:
            handled.extend(
                message_from_json(raw).kind.description  # type: ignore[union-attr]
                for raw in batch.raw
            )
            await delivery.settle(batch, count_round=False)
        for _ in range(8):
            assert await client.execute("ECHO", "in-sync") == "in-sync"
        assert await ch.processing_len(aid) == 0
        assert await ch.inbox_len(aid) + await ch.urgent_len(aid) == 0
    # A take or settle cancelled after Redis ran it is redelivered: at least once.
    assert sorted(set(handled), key=int) == [str(i) for i in range(total)]


async def test_requeue_processing_restores_order(channel: Channel, redis: Redis) -> None:
    aid = AgentId.new()
    keys = Keys(channel.town)
    for i in range(5):
        await channel.send(msg(aid, str(i)))
    for _ in range(3):
        await redis.execute("LMOVE", keys.inbox(aid), keys.processing(aid), "LEFT", "RIGHT")
    assert len(await channel.processing(aid)) == 3
    assert await channel.requeue_processing(aid) == 3
    order = []
    while (m := await channel.try_receive(aid)) is not None:
        order.append(m.kind.description)  # type: ignore[union-attr]
    assert order == ["0", "1", "2", "3", "4"]


async def test_agent_records_field_updates_do_not_clobber(
    channel: Channel, redis_url: str, town_name: str
) -> None:
    agent = Agent.new("worker-1", "claude", now())
    await channel.set_agent(agent)
    await channel.set_agent_state(agent.id, AgentState.WORKING)
    await channel.update_agent(agent.id, last_heartbeat=now())  # must not reset the state
    assert await channel.get_agent_state(agent.id) is AgentState.WORKING
    with pytest.raises(AgentNotFoundError):
        await channel.set_agent_state(AgentId.new(), AgentState.IDLE)
    # Read back with the independent reference client.
    ref = redis_py.Redis.from_url(redis_url, decode_responses=True)
    try:
        fields = ref.hgetall(Keys(town_name).agent(agent.id))
    finally:
        ref.close()
    assert fields["state"] == "working"
    assert fields["name"] == "worker-1"
    assert "current_task" not in fields


async def test_listing_skips_corrupt_records(channel: Channel, redis: Redis,
                                             caplog: pytest.LogCaptureFixture) -> None:
    good = Agent.new("good", "claude", now())
    await channel.set_agent(good)
    await redis.execute("HSET", Keys(channel.town).agent("garbage"), "name", "x")
    await redis.execute("SET", Keys(channel.town).agent(AgentId.new()), "a string")
    agents = await channel.list_agents()
    assert [a.name for a in agents] == ["good"]
    assert "skipping" in caplog.text


async def test_listings_of_a_town_with_glob_characters_see_only_its_own_records(
    redis: Redis, town_name: str
) -> None:
    own = Channel(redis, f"{town_name}[x]*")
    lookalike = Channel(redis, f"{town_name}x-other")  # matched by the unescaped pattern
    mine = Agent.new("mine", "claude", now())
    await own.set_agent(mine)
    await lookalike.set_agent(Agent.new("intruder", "claude", now()))
    task = Task.new("mine too", now())
    await own.set_task(task)
    await lookalike.set_task(Task.new("not mine", now()))
    assert [a.name for a in await own.list_agents()] == ["mine"]
    assert [t.id for t in await own.list_tasks()] == [task.id]


async def test_delete_agent_removes_every_key_of_the_agent(
    channel: Channel, redis: Redis
) -> None:
    agent = Agent.new("doomed", "claude", now())
    await channel.set_agent(agent)
    await channel.send(msg(agent.id, "queued"))
    await channel.send_urgent(msg(agent.id, "urgent"))
    await redis.execute("RPUSH", channel.keys.processing(agent.id), "taken")
    await redis.execute("SET", channel.keys.inflight_urgent(agent.id), 1)
    await redis.execute("SET", channel.keys.batch(agent.id), "open:1")
    await redis.execute("RPUSH", channel.keys.deadletter(agent.id), "poison")
    await channel.log_activity(agent.id, "a line")
    await channel.redis.execute("SET", channel.keys.stop(agent.id), "1")
    await channel.emit(Event(event_type=EventType.AGENT_SPAWNED, message="m",
                             timestamp=now(), agent_id=agent.id))
    keys = channel.keys.agent_keys(agent.id)
    assert await redis.execute("EXISTS", *keys) == len(keys)
    await channel.remove_agent(agent.id)
    assert await redis.execute("EXISTS", *keys) == 0


async def test_get_tasks_leaves_out_a_task_key_of_the_wrong_type(
    channel: Channel, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    good = Task.new("good", now())
    await channel.set_task(good)
    wrong = TaskId.new()
    await redis.execute("SET", channel.keys.task(wrong), "a string, not a hash")
    assert await channel.get_tasks([good.id, wrong, TaskId.new()]) == {good.id: good}
    assert "WRONGTYPE" in caplog.text


async def test_tasks_round_trip_through_redis_py(channel: Channel, redis_url: str) -> None:
    task = Task.new("Write docs", now(), tags=["docs"]).assigned(AgentId.new(), now())
    await channel.set_task(task)
    assert await channel.get_task(task.id) == task
    done = task.completed("ok", now())
    await channel.set_task(done)
    ref = redis_py.Redis.from_url(redis_url, decode_responses=True)
    try:
        fields = ref.hgetall(Keys(channel.town).task(task.id))
    finally:
        ref.close()
    assert fields["state"] == "completed"
    assert fields["tags"] == '["docs"]'
    assert (await channel.get_task(task.id)).state is TaskState.COMPLETED  # type: ignore[union-attr]


async def test_backlog_stop_and_activity(channel: Channel) -> None:
    tasks = [Task.new(f"t{i}", now()) for i in range(3)]
    for t in tasks:
        await channel.backlog_push(t.id)
    assert await channel.backlog_list() == [t.id for t in tasks]
    assert await channel.backlog_remove(tasks[1].id)
    assert await channel.backlog_len() == 2
    aid = AgentId.new()
    assert not await channel.should_stop(aid)
    await channel.redis.execute("SET", channel.keys.stop(aid), "1")
    assert await channel.should_stop(aid)
    for i in range(15):
        await channel.log_activity(aid, f"line {i}")
    assert await channel.recent_activity(aid) == [f"line {i}" for i in (14, 13, 12, 11, 10)]
    assert len(await channel.recent_activity(aid, 50)) == 10


async def test_events_fan_out_and_follow(channel: Channel) -> None:
    aid = AgentId.new()
    ev = Event(event_type=EventType.AGENT_INTERRUPTED, message="paused", timestamp=now(),
               agent_id=aid, old_state="Working", new_state="Paused")
    await channel.emit(ev)
    town_events = await channel.recent_events(10)
    agent_events = await channel.recent_events(10, channel.events_stream(aid))
    assert [e for _, e in town_events] == [ev]
    assert [e for _, e in agent_events] == [ev]
    last_id = town_events[-1][0]
    assert await channel.events_after(last_id) == []
    ev2 = Event(event_type=EventType.AGENT_RESUMED, message="resumed", timestamp=now())
    await channel.emit(ev2)
    assert [e for _, e in await channel.events_after(last_id, block_ms=100)] == [ev2]


async def test_broadcast_reaches_subscribers(channel: Channel) -> None:
    sent = msg(AgentId.new(), "all hands")
    async with channel.open_broadcast() as stream:
        assert await channel.broadcast(sent) == 1
        with trio.fail_after(5):
            got = await stream.__anext__()
    assert got == sent


async def test_requeue_processing_returns_urgent_items_to_the_urgent_queue(
    channel: Channel, redis: Redis
) -> None:
    aid = AgentId.new()
    keys = Keys(channel.town)
    await channel.send_urgent(msg(aid, "u"))
    await channel.send(msg(aid, "n1"))
    await channel.send(msg(aid, "n2"))
    for queue in (keys.urgent(aid), keys.inbox(aid), keys.inbox(aid)):
        await redis.execute("LMOVE", queue, keys.processing(aid), "LEFT", "RIGHT")
    await redis.execute("SET", keys.inflight_urgent(aid), 1)  # as the runtime records it
    assert await channel.requeue_processing(aid) == 3
    assert [m.kind.description for m in await channel.peek(aid, urgent=True)] == ["u"]  # type: ignore[union-attr]
    assert [m.kind.description for m in await channel.peek(aid)] == ["n1", "n2"]  # type: ignore[union-attr]
    assert await redis.execute("EXISTS", keys.inflight_urgent(aid)) == 0


async def test_update_agent_sets_and_deletes_in_one_step(channel: Channel) -> None:
    agent = Agent.new("w", "claude", now())
    agent.current_task = Task.new("x", now()).id
    await channel.set_agent(agent)
    assert await channel.update_agent(agent.id, current_task=None, state=AgentState.IDLE)
    after = await channel.require_agent(agent.id)
    assert (after.current_task, after.state) == (None, AgentState.IDLE)
    assert not await channel.update_agent(AgentId.new(), current_task=None)
    assert await channel.get_agent(AgentId.new()) is None


async def test_backlog_of_the_wrong_type_reads_as_empty_with_a_warning(
    channel: Channel, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await redis.execute("SET", Keys(channel.town).backlog, "not a list")
    assert await channel.backlog_list() == []
    assert await channel.backlog_len() == 0
    assert "skipping" in caplog.text


async def test_commands_packed_once_per_agent_stay_right_past_the_cache_bound(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel_module, "_PACKED_CACHE_MAX", 2)
    aids = [AgentId.new() for _ in range(5)]
    for n in range(2):
        for aid in aids:
            await channel.send(msg(aid, f"{n}-normal"))
            await channel.send(msg(aid, f"{n}-high", Priority.HIGH))
    for aid in aids:
        got = []
        for _ in range(4):
            m = await channel.receive(aid, timeout=1)
            assert m is not None
            assert m.to == aid
            got.append(m.kind.description)  # type: ignore[union-attr]
        assert got == ["1-high", "0-high", "0-normal", "1-normal"]
        assert await channel.receive(aid, timeout=0.01) is None
    assert len(channel._push_heads) <= 2
    assert len(channel._pops) <= 2
