"""The attention tools: the ranked list and answering a question, with the effect in Redis."""

from __future__ import annotations

from mcp import Client

from tinytown.models import AgentId, AgentState, Message, MessageType
from tinytown.town import Town

from .conftest import fails, ok
from .test_tools_tasks import add_agent


async def test_list_and_answer(client: Client, town: Town) -> None:
    assert await ok(client, "attention.list") == {"count": 0, "entries": []}
    asker = await add_agent(town, "asker", AgentState.WORKING)
    question = Message(from_=asker.id, to=AgentId.supervisor(),
                       kind=MessageType.Query(question="Merge now?"))
    await town.channel.send(question)
    listed = await ok(client, "attention.list")
    assert listed["count"] == 1
    assert listed["entries"][0]["kind"] == "query"
    assert listed["entries"][0]["message_id"] == str(question.id)

    done = await ok(client, "attention.answer", message_id=str(question.id)[:8], answer="Yes")
    assert done["correlation_id"] == str(question.id)
    inbox = await town.channel.peek(asker.id)
    assert [m.correlation_id for m in inbox] == [question.id]
    assert "answered already" in await fails(client, "attention.answer",
                                             message_id=str(question.id), answer="Yes")
    assert "empty" in await fails(client, "attention.answer", message_id="abc", answer=" ")
    assert (await ok(client, "attention.list"))["count"] == 0
