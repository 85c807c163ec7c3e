"""An ended task is never reopened: reclaim and claim race a completion (issue 10 item 7)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from tinytown.config import new_town_config, save_town_config
from tinytown.errors import InvalidStateError, NotFoundError
from tinytown.models import Agent, AgentState, TaskState
from tinytown.services import backlog, reclaim, tasks
from tinytown.town import Town, utcnow

TRIALS = 100


@pytest.fixture
async def towns(
    tmp_path: Path, town_name: str, redis_url: str
) -> AsyncIterator[tuple[Town, Town]]:
    """Two connections to one town, as two processes racing each other would have."""
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    env = {"REDIS_URL": redis_url}
    async with Town.connect(root, env=env) as one, Town.connect(root, env=env) as two:
        yield one, two


async def _agent(town: Town, name: str, state: AgentState) -> Agent:
    agent = Agent.new(name, "claude", utcnow())
    agent.state = state
    await town.channel.set_agent(agent)
    return agent


async def _race(first: object, second: object) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(first)  # type: ignore[arg-type]
        nursery.start_soon(second)  # type: ignore[arg-type]


async def test_reclaim_to_backlog_racing_completion_never_reopens(
    towns: tuple[Town, Town],
) -> None:
    one, two = towns
    dead = await _agent(one, "dead", AgentState.STOPPED)
    reopened, requeued = 0, 0
    for i in range(TRIALS):
        tid = (await tasks.assign(one, "dead", f"job {i}")).task.id

        async def complete(tid: object = tid) -> None:
            await tasks.complete(two, str(tid), "done")

        async def reclaim_it() -> None:
            boxes = await reclaim.read_inboxes(one, [dead])
            await reclaim.reclaim_to_backlog(one, boxes)

        await _race(complete, reclaim_it)
        task = await one.channel.require_task(tid)
        reopened += task.state is not TaskState.COMPLETED
        requeued += str(tid) in await one.redis.execute("LRANGE", one.channel.keys.backlog, 0, -1)
    assert (reopened, requeued) == (0, 0)


async def test_backlog_claim_racing_completion_never_reopens(
    towns: tuple[Town, Town],
) -> None:
    one, two = towns
    await _agent(one, "worker", AgentState.IDLE)
    reopened = 0
    for i in range(TRIALS):
        tid = (await backlog.add(one, f"job {i}")).id

        async def complete(tid: object = tid) -> None:
            await tasks.complete(two, str(tid), "done")

        async def claim(tid: object = tid) -> None:
            try:
                await backlog.claim(one, str(tid), "worker")
            except (NotFoundError, InvalidStateError):
                pass  # the completion won: nothing to claim

        await _race(complete, claim)
        reopened += (await one.channel.require_task(tid)).state is not TaskState.COMPLETED
    assert reopened == 0


async def test_claiming_an_ended_task_left_in_the_backlog_is_refused(
    towns: tuple[Town, Town],
) -> None:
    """A stale entry (written by tinytown 0.10, say) is removed, and the task stays ended."""
    one, _ = towns
    await _agent(one, "worker", AgentState.IDLE)
    tid = (await backlog.add(one, "old job")).id
    await tasks.complete(one, str(tid), "done")
    await one.redis.execute("RPUSH", one.channel.keys.backlog, str(tid))
    with pytest.raises(InvalidStateError, match="already ended"):
        await backlog.claim(one, str(tid), "worker")
    assert (await one.channel.require_task(tid)).state is TaskState.COMPLETED
    assert await one.redis.execute("LLEN", one.channel.keys.backlog) == 0
    await one.redis.execute("RPUSH", one.channel.keys.backlog, str(tid))
    assert await backlog.assign_all(one, "worker") == []
    assert (await one.channel.require_task(tid)).state is TaskState.COMPLETED


async def test_reclaim_drops_the_stale_message_of_an_ended_task(
    towns: tuple[Town, Town],
) -> None:
    one, _ = towns
    dead = await _agent(one, "dead", AgentState.STOPPED)
    tid = (await tasks.assign(one, "dead", "finished elsewhere")).task.id
    inbox = one.channel.keys.inbox(dead.id)
    raw = await one.redis.execute("LRANGE", inbox, 0, -1)
    await tasks.complete(one, str(tid), "done")
    # A stale copy of the assignment (left by tinytown 0.10, or a race with the completion).
    await one.redis.execute("DEL", inbox)
    await one.redis.execute("RPUSH", inbox, *raw)
    (moves,) = await reclaim.reclaim_to_backlog(one, await reclaim.read_inboxes(one, [dead]))
    assert [(m.task_id, m.done, m.ended, m.moved) for m in moves] == [(tid, True, True, False)]
    assert await one.redis.execute("LLEN", one.channel.keys.backlog) == 0
    assert await one.redis.execute("LLEN", one.channel.keys.inbox(dead.id)) == 0
    assert (await one.channel.require_task(tid)).state is TaskState.COMPLETED
