"""Lossless delivery scripts on the real Redis: take, settle, update, wait, incarnations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

from tinytown.channel import Channel
from tinytown.codec import message_to_json
from tinytown.models import (
    SUPERVISOR,
    Agent,
    AgentId,
    AgentState,
    Message,
    MessageType,
    Task,
    TaskState,
)
from tinytown.redis.client import Redis, open_redis
from tinytown.redis.url import ConnectionSettings
from tinytown.runtime.delivery import Delivery, wait_for_queued
from tinytown.town import utcnow

Setup = tuple[Channel, Delivery, AgentId]


@pytest.fixture
async def setup(redis: Redis, town_name: str) -> Setup:
    channel = Channel(redis, town_name)
    agent = Agent.new("worker", "demo", utcnow())
    await channel.set_agent(agent)
    delivery = Delivery(redis, channel.keys, agent.id)
    assert await delivery.claim("host-a", utcnow()) == 1
    return channel, delivery, agent.id


def _msg(aid: AgentId, text: str) -> str:
    msg = Message(from_=SUPERVISOR, to=aid, kind=MessageType.Task(description=text))
    return message_to_json(msg)


async def _push(channel: Channel, aid: AgentId, texts: list[str], *, urgent: bool) -> list[str]:
    raws = [_msg(aid, t) for t in texts]
    for raw in raws:
        key = channel.keys.urgent(aid) if urgent else channel.keys.inbox(aid)
        await channel.redis.execute("LPUSH" if urgent else "RPUSH", key, raw)
    return raws


async def test_take_moves_urgent_first_then_inbox_and_keeps_the_urgent_count(setup: Setup) -> None:
    channel, delivery, aid = setup
    normal = await _push(channel, aid, ["n1", "n2", "n3"], urgent=False)
    urgent = await _push(channel, aid, ["u1", "u2"], urgent=True)
    batch = await delivery.take_batch(4)
    assert batch is not None
    assert batch.urgent == 2
    assert batch.urgent_raw == (urgent[1], urgent[0])  # the urgent queue is LIFO
    assert batch.normal_raw == (normal[0], normal[1])
    assert await channel.processing(aid) == list(batch.raw)
    assert await channel.raw_queue(aid) == [normal[2]]
    again = await delivery.take_batch(100)  # leftovers come back first, with their marks
    assert again == batch
    assert await channel.raw_queue(aid) == [normal[2]]


async def test_settle_acknowledges_and_requeues_retries_in_order(setup: Setup) -> None:
    channel, delivery, aid = setup
    await _push(channel, aid, ["u1"], urgent=True)
    normal = await _push(channel, aid, ["n1", "n2", "n3"], urgent=False)
    batch = await delivery.take_batch(3)
    assert batch is not None
    later = await _push(channel, aid, ["late"], urgent=False)
    rounds = await delivery.settle(batch, batch.urgent_raw, [normal[0], normal[1]],
                                   count_round=True)
    assert rounds == 1
    assert await channel.processing(aid) == []
    assert await channel.raw_queue(aid, urgent=True) == list(batch.urgent_raw)
    assert await channel.raw_queue(aid) == [normal[0], normal[1], normal[2], later[0]]
    assert not await channel.redis.execute("EXISTS", channel.keys.inflight_urgent(aid))
    agent = await channel.require_agent(aid)
    assert agent.rounds_completed == 1


async def test_a_superseded_incarnation_changes_nothing(setup: Setup) -> None:
    channel, old, aid = setup
    await _push(channel, aid, ["n1"], urgent=False)
    batch = await old.take_batch(10)
    assert batch is not None
    new = Delivery(channel.redis, channel.keys, aid)
    assert await new.claim("host-b", utcnow()) == 2
    assert await old.take_batch(10) is None
    assert await old.settle(batch, count_round=True) is None
    assert await old.update(AgentState.IDLE) is None
    assert await channel.processing(aid) == list(batch.raw)  # still there for the new one
    assert (await channel.require_agent(aid)).host == "host-b"
    assert await new.take_batch(10) == batch


async def test_update_only_from_and_field_removal(setup: Setup) -> None:
    channel, delivery, aid = setup
    assert await delivery.update(AgentState.IDLE, only_from=(AgentState.STARTING,))
    assert not await delivery.update(AgentState.WORKING, only_from=(AgentState.PAUSED,))
    assert (await channel.require_agent(aid)).state is AgentState.IDLE
    task_id = "5e0b9c9e-5a3b-4d52-8f51-3a1e0e5f8f11"
    assert await delivery.update(current_task=task_id)
    assert str((await channel.require_agent(aid)).current_task) == task_id
    assert await delivery.update(current_task=None)
    assert (await channel.require_agent(aid)).current_task is None


async def test_beat_reports_state_incarnation_and_stop_flag(setup: Setup) -> None:
    channel, delivery, aid = setup
    beat = await delivery.beat(utcnow())
    assert beat is not None
    assert (beat.state, beat.incarnation, beat.stop) == ("starting", 1, False)
    await channel.redis.execute("SET", channel.keys.stop(aid), "1")
    beat = await delivery.beat(utcnow())
    assert beat is not None
    assert beat.stop
    await channel.remove_agent(aid)
    assert await delivery.beat(utcnow()) is None
    assert await delivery.claim("host-a", utcnow()) == 0


async def test_wait_for_queued_wakes_on_either_queue_and_takes_nothing(
    setup: Setup, redis_settings: ConnectionSettings, blocked_in: Callable[..., Awaitable[None]]
) -> None:
    channel, _, aid = setup
    async with open_redis(redis_settings, max_connections=3) as blocking:
        for urgent in (False, True):
            raws: list[str] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait_for_queued, blocking, channel.keys, aid)
                await blocked_in(channel.redis, "blmove", count=2)  # both queues waited on
                raws = await _push(channel, aid, ["hello"], urgent=urgent)
            assert await channel.raw_queue(aid, urgent=urgent) == raws
            await channel.redis.execute("DEL", channel.keys.inbox(aid), channel.keys.urgent(aid))
        with trio.move_on_after(0.1) as scope:
            await wait_for_queued(blocking, channel.keys, aid)
        assert scope.cancelled_caught
        raws = await _push(channel, aid, ["after a cancelled wait"], urgent=False)
        assert await channel.raw_queue(aid) == raws


async def test_task_start_and_revert_never_overwrite_a_concurrent_change(setup: Setup) -> None:
    channel, delivery, aid = setup
    now = utcnow()
    task = Task.new("build it", now).assigned(aid, now)
    await channel.set_task(task)
    assert await delivery.start_task(task.id, now)
    started = await channel.require_task(task.id)
    assert (started.state, started.started_at, started.description) == (
        TaskState.RUNNING, now, "build it")
    assert not await delivery.start_task(task.id, utcnow())  # already running: untouched
    assert await delivery.revert_task(task.id, utcnow())
    reverted = await channel.require_task(task.id)
    assert (reverted.state, reverted.assigned_to) == (TaskState.ASSIGNED, aid)

    # `tt task complete` lands between the round reading the task and writing it.
    stale = await channel.require_task(task.id)
    await channel.set_task(stale.completed("done by hand", utcnow()))
    assert not await delivery.start_task(task.id, utcnow())
    assert not await delivery.revert_task(task.id, utcnow())
    final = await channel.require_task(task.id)
    assert (final.state, final.result) == (TaskState.COMPLETED, "done by hand")


async def test_task_revert_leaves_a_task_reassigned_to_another_agent(setup: Setup) -> None:
    channel, delivery, aid = setup
    other = AgentId.new()
    now = utcnow()
    task = Task.new("build it", now).assigned(other, now).started(now)
    await channel.set_task(task)
    assert not await delivery.revert_task(task.id, utcnow())
    assert (await channel.require_task(task.id)).assigned_to == other
    newer = Delivery(channel.redis, channel.keys, aid)
    assert await newer.claim("host-b", utcnow()) == 2
    mine = Task.new("mine", now).assigned(aid, now)
    await channel.set_task(mine)
    assert await delivery.start_task(mine.id, utcnow()) is None  # superseded: nothing written
    assert (await channel.require_task(mine.id)).state is TaskState.ASSIGNED
