"""``tt attention`` lists what needs a human; ``tt answer`` answers a question once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import attrs
from _work_helpers import assert_one_error_line, in_town, snapshot

from tinytown.codec import message_from_json
from tinytown.models import Agent, AgentId, AgentState, Message, MessageType
from tinytown.town import Town, utcnow


def _setup(town_dir: Path) -> tuple[str, str]:
    """An agent in Error and another one asking the supervisor a question."""

    async def body(town: Town) -> tuple[str, str]:
        now = utcnow()
        broken = attrs.evolve(Agent.new("broken", "claude", now - timedelta(minutes=9)),
                              state=AgentState.ERROR, host="elsewhere")
        asker = attrs.evolve(Agent.new("asker", "claude", now - timedelta(minutes=9)),
                             state=AgentState.WORKING, host="elsewhere")
        await town.channel.set_agent(broken)
        await town.channel.set_agent(asker)
        question = Message(from_=asker.id, to=AgentId.supervisor(),
                           kind=MessageType.Query(question="Which database should I use?"))
        await town.channel.send(question)
        return str(question.id), str(asker.id)

    return in_town(town_dir, body)


def test_attention_text_and_json(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tt("attention")
    assert (empty.code, empty.out.strip()) == (0, "✅ Nothing needs you right now.")
    qid, _ = _setup(town_dir)
    shown = tt("attention")
    assert shown.code == 0, shown.err
    assert shown.lines[0] == "🔔 2 item(s) need you:"
    assert "asker asks: Which database should I use?" in shown.lines[1]
    assert shown.lines[2].strip() == f'→ tt answer {qid} "..."'
    assert "broken is in Error" in shown.lines[3]
    assert shown.lines[4].strip() == "→ tt restart broken"
    doc = json.loads(tt("attention", "--json").out)
    assert doc["count"] == 2
    assert [e["kind"] for e in doc["entries"]] == ["query", "agent_error"]
    assert doc["entries"][0]["message_id"] == qid
    assert doc["entries"][0]["actions"] == ["answer"]
    assert doc["entries"][1]["actions"] == ["restart", "reclaim"]


def test_answer_through_the_installed_tt(tt_proc, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    qid, asker = _setup(town_dir)
    done = tt_proc("answer", qid[:8], "PostgreSQL, version 16")
    assert done.code == 0, done.err
    assert done.out.startswith("✅ Answered")

    async def inbox(town: Town) -> list[str]:
        raw: list[str] = await town.redis.execute(
            "LRANGE", town.channel.keys.inbox(AgentId.parse(asker)), 0, -1)
        return raw

    (raw,) = in_town(town_dir, inbox)
    reply = message_from_json(raw)
    assert str(reply.correlation_id) == qid
    assert isinstance(reply.kind, MessageType.Task)
    assert "PostgreSQL, version 16" in reply.kind.description
    before = snapshot(town_dir)
    again = tt_proc("answer", qid, "twice")
    assert again.code != 0
    assert_one_error_line(again.err)
    assert "answered already" in again.err
    assert snapshot(town_dir) == before
    assert "asker asks" not in tt_proc("attention").out
