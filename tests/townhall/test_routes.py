"""Read, write and management routes over real HTTP (townhall.md §5.3–§5.5)."""

from __future__ import annotations

from tests.townhall.conftest import Running
from tinytown.models import AgentState, TaskId
from tinytown.runtime.launch import runtime_pid
from tinytown.runtime.settings import host_id
from tinytown.services import backlog, missions, tasks
from tinytown.services.registration import register_agent


async def test_town_status_agents(th: Running) -> None:
    town = th.town
    await register_agent(town, "worker-1", "claude")
    r = await th.client.get("/v1/town")
    assert r.status_code == 200
    assert r.json()["name"] == town.name
    assert "password" not in r.json()["redis_url"]
    r = await th.client.get("/v1/status")
    doc = r.json()
    assert doc["agent_count"] == 1
    agent = doc["agents"][0]
    assert agent["name"] == "worker-1"
    assert agent["state"] == "Starting"
    assert (agent["inbox_len"], agent["urgent_len"], agent["rounds_completed"]) == (0, 0, 0)
    r = await th.client.get("/v1/agents")
    assert r.json()["count"] == 1
    assert "inbox_len" not in r.json()["agents"][0]
    assert (await th.client.get("/v1/status?deep=maybe")).status_code == 400
    assert (await th.client.get("/v1/status?deep=true")).status_code == 200


async def test_send_inbox_and_pending(th: Running) -> None:
    town = th.town
    await register_agent(town, "sender", "claude")
    await register_agent(town, "receiver", "claude")
    r = await th.client.post("/v1/messages/send", json={
        "to": "receiver", "from": "sender", "message": "Hello", "kind": "info"})
    assert r.status_code == 201
    sent = r.json()
    assert sent["urgent"] is False
    for method in ("GET", "POST"):
        r = await th.client.request(method, "/v1/agents/receiver/inbox")
        assert r.status_code == 200
        doc = r.json()
        assert (doc["agent"], doc["total"], doc["urgent"]) == ("receiver", 1, 0)
        sender_id = str((await town.resolve("sender"))[0])
        assert doc["messages"] == [{"id": sent["message_id"], "from": sender_id,
                                    "type": "info", "summary": "Hello"}]
    r = await th.client.post("/v1/tasks/assign", json={"agent": "receiver", "task": "Do it"})
    assert r.status_code == 201
    task_id = r.json()["task_id"]
    r = await th.client.get("/v1/tasks/pending")
    assert [(t["task_id"], t["description"], t["agent_name"]) for t in r.json()["tasks"]] == [
        (task_id, "Do it", "receiver")]


async def test_backlog_routes(th: Running) -> None:
    town = th.town
    await register_agent(town, "worker", "claude")
    r = await th.client.post("/v1/backlog", json={"description": "first", "tags": ["a", "b"]})
    assert r.status_code == 201
    first = r.json()["task_id"]
    second = (await th.client.post("/v1/backlog", json={"description": "second"})).json()
    third = (await th.client.post("/v1/backlog", json={"description": "third"})).json()
    doc = (await th.client.get("/v1/backlog")).json()
    assert [(b["description"], b["tags"]) for b in doc["backlog"]] == [
        ("first", ["a", "b"]), ("second", []), ("third", [])]
    r = await th.client.post(f"/v1/backlog/{first}/claim", json={"agent": "worker"})
    assert r.status_code == 200
    assert r.json()["agent_name"] == "worker"
    r = await th.client.delete(f"/v1/backlog/{second['task_id']}")
    assert r.json() == {"removed": True, "task_id": second["task_id"]}
    assert await town.channel.get_task(TaskId.parse(second["task_id"])) is None
    r = await th.client.post("/v1/backlog/assign-all", json={"agent": "worker"})
    assert r.json() == {"assigned": 1, "tasks": [third["task_id"]]}
    r = await th.client.delete(f"/v1/backlog/{second['task_id']}")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert (await th.client.post("/v1/backlog/not-a-uuid/claim",
                                 json={"agent": "worker"})).status_code == 400
    assert await backlog.list_backlog(town) == []


async def test_manage_routes(th: Running) -> None:
    town = th.town
    r = await th.client.post("/v1/agents", json={"name": "w0"})  # the default CLI: claude
    assert r.status_code == 422  # not installed here: refused, nothing registered
    assert "claude" in r.json()["detail"]
    assert await town.channel.list_agents() == []
    r = await th.client.post("/v1/agents", json={"name": "w1", "nickname": "Bob", "cli": "demo"})
    assert r.status_code == 201
    doc = r.json()
    # As tt spawn: the host's runtime is started and runs the agent.
    assert await runtime_pid(town, host_id()) is not None
    assert (doc["name"], doc["nickname"], doc["role_id"]) == ("w1", "Bob", None)
    agent = await town.channel.require_agent((await town.resolve("w1"))[0])
    assert agent.nickname == "Bob"
    r = await th.client.post("/v1/agents", json={"name": "x", "parent_agent_id": "nope",
                                                  "cli": "demo"})
    assert r.status_code == 422
    assert "parent_agent_id" in r.json()["detail"]
    r = await th.client.post("/v1/agents/w1/kill")
    assert r.json() == {"status": "stopped", "agent": "w1"}
    assert (await town.channel.require_agent(agent.id)).state is AgentState.STOPPED
    assert (await th.client.post("/v1/agents/nobody/kill")).status_code == 404
    r = await th.client.post("/v1/agents/prune", json={})
    assert r.json() == {"removed": 1, "agents": ["w1"]}
    assert (await th.client.post("/v1/agents/prune")).status_code == 415
    r = await th.client.post("/v1/recover")
    assert r.json()["recovered"] == 0
    r = await th.client.post("/v1/reclaim", json={"to_backlog": True})
    assert r.json() == {"reclaimed": 0, "destination": "Backlog"}
    r = await th.client.post("/v1/reclaim/orphan-tasks")
    assert r.json() == {"action": "list", "count": 0, "orphans": []}
    r = await th.client.post("/v1/reclaim/orphan-tasks", json={"action": "explode"})
    assert r.status_code == 400
    assert "unknown action 'explode'" in r.json()["detail"]


async def test_orphan_tasks_to_backlog(th: Running) -> None:
    town = th.town
    await register_agent(town, "gone", "claude")
    done = await tasks.assign(town, "gone", "orphaned work")
    await th.client.post("/v1/agents/gone/kill")
    r = await th.client.post("/v1/reclaim/orphan-tasks", json={"action": "list"})
    assert r.json()["orphans"] == [{"task_id": str(done.task.id), "assigned_to": str(done.agent_id),
                                    "state": "assigned", "reason": "agent_terminal"}]
    r = await th.client.post("/v1/reclaim/orphan-tasks", json={"action": "backlog"})
    assert (r.json()["action"], r.json()["count"]) == ("to_backlog", 1)
    assert [e.task_id for e in await backlog.list_backlog(town)] == [done.task.id]


async def test_mission_routes(th: Running) -> None:
    town = th.town
    started = await missions.start(town, [], ["plan.md"])
    mid = str(started.mission.id)
    r = await th.client.post(f"/v1/missions/{mid}/resume")
    assert r.json() == {"id": mid, "state": "running", "note": "already running"}
    r = await th.client.post(f"/v1/missions/{mid}/stop")
    assert r.json() == {"id": mid, "state": "blocked"}
    r = await th.client.post(f"/v1/missions/{mid}/resume")
    assert r.json() == {"id": mid, "state": "running"}
    r = await th.client.post(f"/v1/missions/{mid}/fail", json={"reason": "no luck"})
    assert r.json() == {"id": mid, "state": "failed", "reason": "no luck"}
    r = await th.client.post(f"/v1/missions/{mid}/resume")
    assert r.status_code == 409
    assert r.json()["detail"] == "mission is failed and cannot be resumed"
    r = await th.client.post(f"/v1/missions/{mid}/complete")
    assert r.json() == {"id": mid, "state": "completed"}
    r = await th.client.post(f"/v1/missions/{mid}/complete")
    assert r.json()["note"] == "already completed"
    assert (await th.client.post(f"/v1/missions/{mid}/fail")).status_code == 409
    r = await th.client.delete(f"/v1/missions/{mid}")
    assert r.json() == {"id": mid, "deleted": True}
    assert (await th.client.delete(f"/v1/missions/{mid}")).status_code == 404
    assert (await th.client.post(f"/v1/missions/{mid}/stop")).status_code == 404
    r = await th.client.post("/v1/missions/bad/stop")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert "bad" in r.json()["detail"]


async def test_stop_force_fails_the_mission(th: Running) -> None:
    started = await missions.start(th.town, [], ["plan.md"])
    mid = str(started.mission.id)
    r = await th.client.post(f"/v1/missions/{mid}/stop", json={"force": True})
    assert r.json() == {"id": mid, "state": "failed"}
    r = await th.client.get("/ready")
    assert r.json()["dispatcher"] == "idle"


async def test_ready_reports_the_dispatcher(th: Running) -> None:
    started = await missions.start(th.town, [], ["plan.md"])
    tick = started.mission.dispatcher_last_tick_at
    expected = "running" if tick is not None else "stalled"
    assert (await th.client.get("/ready")).json()["dispatcher"] == expected
    r = await th.client.get("/metrics")
    assert "tinytown_missions_active 1" in r.text.splitlines()


async def test_restart_and_reclaim_to_an_agent(th: Running) -> None:
    town = th.town
    # Registered, not spawned over REST: a spawned demo agent runs in the host's runtime
    # and could take the task before the kill (or after the reclaim) on a loaded machine.
    await register_agent(town, "old", "demo")
    await register_agent(town, "new", "demo")
    await tasks.assign(town, "old", "left behind")
    await th.client.post("/v1/agents/old/kill")
    r = await th.client.post("/v1/agents/new/restart")
    assert r.status_code == 409  # still live: kill it first
    r = await th.client.post("/v1/reclaim", json={"from": "old"})
    assert r.json() == {"reclaimed": 1, "destination": "Listed"}  # a preview moves nothing
    r = await th.client.post("/v1/reclaim", json={"to": "new", "from": "old"})
    assert r.json() == {"reclaimed": 1, "destination": 'Agent("new")'}
    new_id, _ = await town.resolve("new")
    assert len(await town.channel.peek(new_id)) == 1
    r = await th.client.post("/v1/agents/old/restart")
    assert r.json() == {"status": "restarted", "agent": "old"}
    old = await town.channel.require_agent((await town.resolve("old"))[0])
    assert (old.state, old.rounds_completed) == (AgentState.IDLE, 0)


async def test_reclaim_with_an_empty_target_is_a_client_error(th: Running) -> None:
    """``"to": ""`` names no agent: a 4xx problem naming it, never a 500 (and nothing moves)."""
    await register_agent(th.town, "gone", "demo")
    await tasks.assign(th.town, "gone", "left behind")
    await th.client.post("/v1/agents/gone/kill")
    for body in ({"to": ""}, {"to": "  ", "to_backlog": True}):
        r = await th.client.post("/v1/reclaim", json=body)
        assert r.status_code == 404, (body, r.text)
        assert "problem" in r.headers["content-type"], (body, r.text)
    r = await th.client.post("/v1/reclaim", json={"from": "gone"})
    assert r.json() == {"reclaimed": 1, "destination": "Listed"}
