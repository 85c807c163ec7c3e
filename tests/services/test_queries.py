"""Questions for the supervisor: listed, answered once, the answer in the asker's inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import trio

from tinytown.codec import message_from_json
from tinytown.errors import InvalidInputError, NotFoundError
from tinytown.models import Agent, AgentId, AgentState, Message, MessageType
from tinytown.services import queries
from tinytown.town import Town, utcnow

from ._work_fixtures import open_test_town


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    async with open_test_town(tmp_path, town_name, redis_url, monkeypatch) as connected:
        yield connected


async def add_agent(town: Town, name: str) -> Agent:
    now = utcnow()
    agent = Agent.new(name, "claude", now - timedelta(minutes=5))
    agent.state = AgentState.IDLE
    await town.channel.set_agent(agent)
    return agent


async def ask(town: Town, agent: Agent, question: str, *, urgent: bool = False) -> Message:
    message = Message(from_=agent.id, to=AgentId.supervisor(),
                      kind=MessageType.Query(question=question))
    if urgent:
        await town.channel.send_urgent(message)
    else:
        await town.channel.send(message)
    return message


async def test_open_queries_lists_only_questions_urgent_first(town: Town) -> None:
    alice = await add_agent(town, "alice")
    first = await ask(town, alice, "Which database?")
    await town.channel.send(Message(from_=alice.id, to=AgentId.supervisor(),
                                    kind=MessageType.Informational(summary="FYI")))
    urgent = await ask(town, alice, "Prod is down, roll back?", urgent=True)
    await town.redis.execute("RPUSH", town.channel.keys.inbox(AgentId.supervisor()), "{not json")
    found = await queries.open_queries(town)
    assert [q.message.id for q in found] == [urgent.id, first.id]
    assert [q.urgent for q in found] == [True, False]
    assert found[1].question == "Which database?"


async def test_answer_moves_the_question_out_and_the_answer_in(town: Town) -> None:
    alice = await add_agent(town, "alice")
    question = await ask(town, alice, "Which database?")
    reply = await queries.answer(town, str(question.id)[:8], "PostgreSQL 16")
    assert await queries.open_queries(town) == []
    (raw,) = await town.redis.execute("LRANGE", town.channel.keys.inbox(alice.id), 0, -1)
    delivered = message_from_json(raw)
    assert delivered.id == reply.id
    assert delivered.correlation_id == question.id
    assert delivered.from_ == AgentId.supervisor()
    assert isinstance(delivered.kind, MessageType.Task)
    assert "PostgreSQL 16" in delivered.kind.description
    assert "Which database?" in delivered.kind.description
    with pytest.raises(NotFoundError, match="answered already"):
        await queries.answer(town, str(question.id), "again")
    assert await town.redis.execute("LLEN", town.channel.keys.inbox(alice.id)) == 1


async def test_concurrent_answers_deliver_exactly_one(town: Town) -> None:
    alice = await add_agent(town, "alice")
    question = await ask(town, alice, "Ship it?")
    outcomes: list[str] = []

    async def answer(text: str) -> None:
        try:
            await queries.answer(town, str(question.id), text)
            outcomes.append("ok")
        except NotFoundError:
            outcomes.append("gone")

    async with trio.open_nursery() as nursery:
        for i in range(10):
            nursery.start_soon(answer, f"answer {i}")
    assert sorted(outcomes) == ["gone"] * 9 + ["ok"]
    assert await town.redis.execute("LLEN", town.channel.keys.inbox(alice.id)) == 1


async def test_bad_answers_change_nothing(town: Town) -> None:
    alice = await add_agent(town, "alice")
    q1 = await ask(town, alice, "one?")
    await ask(town, alice, "two?")
    with pytest.raises(InvalidInputError, match="empty"):
        await queries.answer(town, str(q1.id), "   ")
    with pytest.raises(InvalidInputError, match="required"):
        await queries.answer(town, " ", "yes")
    with pytest.raises(NotFoundError):
        await queries.answer(town, "ffffffff-nope", "yes")
    assert len(await queries.open_queries(town)) == 2
    assert await town.redis.execute("LLEN", town.channel.keys.inbox(alice.id)) == 0
