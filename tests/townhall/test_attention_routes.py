"""The attention inbox over HTTP: the list, answering a question, deciding a reviewer gate."""

from __future__ import annotations

from datetime import timedelta

import attrs

from tinytown.mission.store import MissionStore
from tinytown.models import Agent, AgentId, AgentState, Message, MessageType
from tinytown.models.mission import DocRef, MissionRun, WorkItem, WorkKind, WorkStatus
from tinytown.town import Town, utcnow

from .conftest import Running, Start
from .test_auth import KEY, api_key_config


async def _asker(town: Town) -> tuple[Agent, Message]:
    agent = attrs.evolve(Agent.new("asker", "claude", utcnow() - timedelta(minutes=3)),
                         state=AgentState.WORKING, host="elsewhere")
    await town.channel.set_agent(agent)
    question = Message(from_=agent.id, to=AgentId.supervisor(),
                       kind=MessageType.Query(question="Ship on Friday?"))
    await town.channel.send(question)
    return agent, question


async def _gated(town: Town) -> tuple[MissionRun, WorkItem]:
    now = utcnow()
    mission = MissionRun.new([DocRef("plan.md")], now).started(now)
    item = attrs.evolve(WorkItem.new(mission.id, "Login API", WorkKind.IMPLEMENT, now),
                        status=WorkStatus.BLOCKED)
    store = MissionStore(town.channel)
    await store.save_mission(mission)
    await store.save_work_items([item])
    await store.activate(mission.id)
    return mission, item


async def test_list_and_answer(th: Running) -> None:
    empty = await th.client.get("/v1/attention")
    assert empty.json() == {"count": 0, "entries": []}
    agent, question = await _asker(th.town)
    listed = (await th.client.get("/v1/attention")).json()
    assert listed["count"] == 1
    (entry,) = listed["entries"]
    assert entry["kind"] == "query"
    assert entry["message_id"] == str(question.id)
    assert entry["actions"] == ["answer"]

    done = await th.client.post(f"/v1/queries/{question.id}/answer", json={"answer": "Yes"})
    assert done.status_code == 201, done.text
    assert done.json()["correlation_id"] == str(question.id)
    assert done.json()["to_agent"] == str(agent.id)
    inbox = await th.town.channel.peek(agent.id)
    assert [m.correlation_id for m in inbox] == [question.id]
    assert (await th.client.get("/v1/attention")).json()["count"] == 0

    again = await th.client.post(f"/v1/queries/{question.id}/answer", json={"answer": "Yes"})
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"
    bad = await th.client.post(f"/v1/queries/{question.id}/answer", json={"text": "Yes"})
    assert bad.status_code == 422
    assert len(await th.town.channel.peek(agent.id)) == 1


async def test_gate_decisions(th: Running) -> None:
    mission, item = await _gated(th.town)
    listed = (await th.client.get("/v1/attention")).json()
    assert [e["kind"] for e in listed["entries"]] == ["review_gate"]
    assert listed["entries"][0]["actions"] == ["approve", "reject"]
    base = f"/v1/missions/{mission.id}/work/{item.id}"
    no_reason = await th.client.post(f"{base}/reject", json={})
    assert no_reason.status_code == 422  # the schema requires a reason
    blank = await th.client.post(f"{base}/reject", json={"reason": "  "})
    assert blank.status_code == 422
    approved = await th.client.post(f"{base}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["reviewer_approved"] is True
    stored = await MissionStore(th.town.channel).get_work_item(mission.id, item.id)
    assert stored is not None
    assert stored.reviewer_approved
    assert (await th.client.get("/v1/attention")).json()["count"] == 0


async def test_scopes(start_townhall: Start, town: Town) -> None:
    _agent, question = await _asker(town)
    reader = await start_townhall(api_key_config(["town.read"]), headers={"X-API-Key": KEY})
    assert (await reader.client.get("/v1/attention")).status_code == 200
    denied = await reader.client.post(f"/v1/queries/{question.id}/answer", json={"answer": "x"})
    assert denied.status_code == 403
    anonymous = await reader.client.get("/v1/attention", headers={"X-API-Key": "wrong"})
    assert anonymous.status_code == 401
