"""Effectively-once work on the real Redis: idempotent settle, intake, completion, fencing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tinytown.codec import message_to_json
from tinytown.codec.deadletter import deadletter_from_json
from tinytown.config import new_town_config, save_town_config
from tinytown.errors import FencedError
from tinytown.models import SUPERVISOR, AgentId, Message, MessageType, TaskState
from tinytown.models.fencing import RoundToken
from tinytown.runtime.delivery import Delivery
from tinytown.runtime.intake import MAX_MESSAGE_BYTES, take_in
from tinytown.services import recovery, tasks
from tinytown.services.registration import register_agent
from tinytown.town import Town, utcnow


@pytest.fixture
async def town(tmp_path: Path, town_name: str, redis_url: str) -> AsyncIterator[Town]:
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    async with Town.connect(root, env={"REDIS_URL": redis_url}) as connected:
        yield connected


async def _worker(town: Town) -> tuple[AgentId, Delivery]:
    handle = await register_agent(town, "worker", "claude")
    delivery = Delivery(town.redis, town.channel.keys, handle.id)
    assert await delivery.claim("host-a", utcnow()) == 1
    return handle.id, delivery


def _text(aid: AgentId, text: str) -> str:
    kind = MessageType.Task(description=text)
    return message_to_json(Message(from_=SUPERVISOR, to=aid, kind=kind))


async def test_settling_twice_or_a_shutdown_after_settle_requeues_nothing(town: Town) -> None:
    aid, delivery = await _worker(town)
    for text in ("a", "b"):
        await town.redis.execute("RPUSH", town.channel.keys.inbox(aid), _text(aid, text))
    batch = await delivery.take_batch(10)
    assert batch is not None
    assert batch.tag
    assert await delivery.settle(batch, count_round=True) == 1
    # The shutdown's hand-back (everything as a retry) after the acknowledgement:
    assert await delivery.settle(batch, batch.urgent_raw, batch.normal_raw,
                                 count_round=True) == 0
    assert await town.channel.raw_queue(aid) == []
    assert await town.channel.processing(aid) == []
    assert (await town.channel.require_agent(aid)).rounds_completed == 1
    # The next batch gets a new tag; the old one still settles nothing.
    await town.redis.execute("RPUSH", town.channel.keys.inbox(aid), _text(aid, "c"))
    second = await delivery.take_batch(10)
    assert second is not None
    assert second.tag != batch.tag
    assert await delivery.settle(batch, batch.urgent_raw, batch.normal_raw,
                                 count_round=False) == 0
    assert await town.channel.processing(aid) == list(second.raw)


async def test_completing_a_task_removes_its_pending_assignments(town: Town) -> None:
    aid, delivery = await _worker(town)
    one = await tasks.assign(town, "worker", "one")
    two = await tasks.assign(town, "worker", "two")
    kind = MessageType.TaskAssign(task_id=str(one.task.id))
    urgent = Message(from_=SUPERVISOR, to=aid, kind=kind)
    await town.redis.execute("LPUSH", town.channel.keys.urgent(aid), message_to_json(urgent))
    batch = await delivery.take_batch(2)  # the urgent copy and "one" are in processing
    assert batch is not None
    assert batch.urgent == 1
    await tasks.complete(town, str(one.task.id), "done")
    assert await town.channel.processing(aid) == []
    assert not await town.redis.execute("EXISTS", town.channel.keys.inflight_urgent(aid))
    queued = await town.channel.raw_queue(aid)
    assert len(queued) == 1
    assert str(two.task.id) in queued[0]
    # The round that had the batch settles it as failed: nothing comes back.
    assert await delivery.settle(batch, batch.urgent_raw, batch.normal_raw,
                                 count_round=True) == 1
    assert await town.channel.raw_queue(aid) == queued
    assert await town.channel.raw_queue(aid, urgent=True) == []


async def test_completing_twice_keeps_the_first_result_and_cancel_does_not_overwrite(
    town: Town,
) -> None:
    await _worker(town)
    done = await tasks.assign(town, "worker", "job")
    first = await tasks.complete(town, str(done.task.id), "first")
    again = await tasks.complete(town, str(done.task.id), "second")
    cancelled = await tasks.cancel(town, str(done.task.id), "too late")
    stored = await town.channel.require_task(done.task.id)
    assert (stored.state, stored.result, stored.completed_at) == (
        TaskState.COMPLETED, "first", first.task.completed_at)
    assert again.was_terminal
    assert cancelled.was_terminal


async def test_intake_drops_ended_assignments_and_dead_letters_poison(town: Town) -> None:
    aid, delivery = await _worker(town)
    ended = await tasks.assign(town, "worker", "cancelled meanwhile")
    live = await tasks.assign(town, "worker", "still to do")
    k = town.channel.keys
    stale = message_to_json(Message(from_=SUPERVISOR, to=aid,
                                    kind=MessageType.TaskAssign(task_id=str(ended.task.id))))
    await tasks.cancel(town, str(ended.task.id))
    poison = [
        "[" * 10_000 + "]" * 10_000,
        '{"id": 1, "type": "task_assign", "task_id": ["not", "a", "string"]}',
        _text(aid, "x" * (MAX_MESSAGE_BYTES + 1)),
        "not json at all",
    ]
    await town.redis.execute("RPUSH", k.inbox(aid), stale, *poison)
    batch = await delivery.take_batch(100)
    assert batch is not None
    assert len(batch.raw) == 6
    intake = await take_in(delivery, town.channel, batch, utcnow())
    assert intake is not None
    assert intake.dropped == 1
    assert len(intake.dead) == 4
    assert [assigned.raw for assigned in intake.entries] == [batch.raw[0]]
    assert str(live.task.id) in intake.entries[0].raw
    assert await town.channel.processing(aid) == [batch.raw[0]]
    letters = [deadletter_from_json(e)
               for e in await town.redis.execute("LRANGE", k.deadletter(aid), 0, -1)]
    assert [d.message for d in letters] == poison
    assert "invalid JSON" in letters[0].reason
    assert "byte limit" in letters[2].reason


async def test_incarnations_compare_for_equality(town: Town) -> None:
    aid, delivery = await _worker(town)
    # A restored snapshot puts back an older incarnation number: the actor is stale too.
    await town.redis.execute("HSET", town.channel.keys.agent(aid), "incarnation", 0)
    assert await delivery.take_batch(10) is None
    assert await delivery.update(current_task=None) is None


async def test_recover_bumps_the_incarnation_and_requeues_in_one_step(town: Town) -> None:
    aid, delivery = await _worker(town)
    await town.redis.execute("RPUSH", town.channel.keys.inbox(aid), _text(aid, "work"))
    batch = await delivery.take_batch(10)
    assert batch is not None
    await town.redis.execute("HSET", town.channel.keys.agent(aid), "last_heartbeat",
                             "2020-01-01T00:00:00Z")
    report = await recovery.recover(town)
    assert report.requeued == 1
    agent = await town.channel.require_agent(aid)
    assert agent.incarnation == 2
    assert await town.channel.raw_queue(aid) == list(batch.raw)
    # The dead runtime's actor, should it wake up, can settle nothing.
    assert await delivery.settle(batch, count_round=True) is None
    assert await town.channel.raw_queue(aid) == list(batch.raw)


async def test_a_stale_round_token_cannot_complete(town: Town) -> None:
    aid, delivery = await _worker(town)
    done = await tasks.assign(town, "worker", "job")
    live = RoundToken(aid, 1, 1)
    await delivery.update(round_token=str(live))
    with pytest.raises(FencedError):
        await tasks.complete(town, str(done.task.id), "late", fence=RoundToken(aid, 1, 0))
    assert (await town.channel.require_task(done.task.id)).state is TaskState.ASSIGNED
    completed = await tasks.complete(town, str(done.task.id), "now", fence=live)
    assert completed.task.state is TaskState.COMPLETED
