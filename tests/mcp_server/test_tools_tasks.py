"""Read, task, message and backlog tools through the SDK's client, with the effect read back."""

from __future__ import annotations

from datetime import timedelta

from mcp import Client

from tinytown.api import Town
from tinytown.models import SUPERVISOR, Agent, AgentState, MessageType, TaskId, TaskState
from tinytown.town import utcnow

from .conftest import fails, ok


async def add_agent(town: Town, name: str, state: AgentState = AgentState.IDLE) -> Agent:
    agent = Agent.new(name, "claude", utcnow() - timedelta(seconds=len(name)))
    agent.state = state
    await town.channel.set_agent(agent)
    return agent


async def test_status_and_agent_lists(client: Client, town: Town) -> None:
    empty = await ok(client, "town.get_status")
    assert (empty["name"], empty["agent_count"], empty["agents"]) == (town.name, 0, [])
    assert empty["root"] == str(town.root)
    worker = await add_agent(town, "worker")
    await add_agent(town, "gone", AgentState.STOPPED)
    task = (await town.assign(worker.id, "Fix the login bug"))
    await town.channel.update_agent(worker.id, current_task=task.id)
    status = await ok(client, "town.get_status")
    assert status["agent_count"] == 2
    full = {a["name"]: a for a in status["agents"]}
    assert full["worker"] == {
        "id": str(worker.id), "name": "worker", "nickname": worker.nickname, "role_id": None,
        "parent_agent_id": None, "spawn_mode": "fresh", "cli": "claude", "state": "Idle",
        "rounds_completed": 0, "tasks_completed": 0, "inbox_len": 1, "urgent_len": 0,
        "current_scope": "Fix the login bug",
    }  # fmt: skip
    assert list(full["worker"]) == [  # 0.10's key order: REST's agent, counters, scope
        "id", "name", "nickname", "role_id", "parent_agent_id", "spawn_mode", "cli", "state",
        "rounds_completed", "tasks_completed", "inbox_len", "urgent_len", "current_scope"]
    assert full["gone"]["state"] == "Stopped"
    listed = await ok(client, "agent.list")
    assert sorted(a["name"] for a in listed) == ["gone", "worker"]
    assert [a["name"] for a in await ok(client, "agent.list_open")] == ["worker"]


async def test_assign_then_inbox_and_pending(client: Client, town: Town) -> None:
    worker = await add_agent(town, "worker")
    data = await ok(client, "task.assign", agent="worker", description="Write the docs")
    assert data["agent_id"] == str(worker.id)
    assert data["agent_name"] == "worker"
    task = await town.channel.get_task(TaskId.parse(data["task_id"]))
    assert task is not None
    assert task.state is TaskState.ASSIGNED
    assert task.assigned_to == worker.id
    await ok(client, "message.send", to="worker", message="also this", kind="task")
    inbox = await ok(client, "agent.inbox", agent="worker")
    assert inbox["agent"] == "worker"
    assert inbox["agent_id"] == str(worker.id)
    assert (inbox["total_messages"], inbox["urgent_messages"]) == (2, 0)
    first, second = inbox["messages"]
    assert first["type"] == "task_assign"
    assert first["summary"] == f"task assignment {task.id}"
    assert (second["type"], second["summary"], second["urgent"]) == ("task", "also this", False)
    assert first["from"] == str(SUPERVISOR)
    pending = await ok(client, "task.list_pending")
    assert [(p["task_id"], p["description"], p["agent_name"]) for p in pending] == [
        (str(task.id), "Write the docs", "worker"),
        (second["id"], "also this", "worker"),
    ]
    assert await town.channel.inbox_len(worker.id) == 2  # peeking took nothing


async def test_complete_goes_through_the_task_service(client: Client, town: Town) -> None:
    worker = await add_agent(town, "worker")
    task = await town.assign(worker.id, "Ship it")
    await town.channel.update_agent(worker.id, current_task=task.id)
    data = await ok(client, "task.complete", task_id=str(task.id), result="shipped")
    assert data == {
        "task_id": str(task.id), "description": "Ship it", "result": "shipped",
        "status": "completed", "cleared_current_task": True, "tasks_completed": 1,
    }  # fmt: skip
    again = await ok(client, "task.complete", task_id=str(task.id))
    assert again["tasks_completed"] == 1
    assert again["result"] == "shipped"  # completing twice keeps the first result
    stored = await town.channel.get_task(task.id)
    assert stored is not None
    assert stored.state is TaskState.COMPLETED
    record = await town.channel.get_agent(worker.id)
    assert record is not None
    assert record.current_task is None
    assert record.tasks_completed == 1


async def test_send_kinds_urgent_and_sender(client: Client, town: Town) -> None:
    worker = await add_agent(town, "worker")
    boss = await add_agent(town, "boss")
    data = await ok(client, "message.send", to="worker", message="why?", kind="query",
                    urgent=True, **{"from": "boss"})
    assert data["to_agent"] == str(worker.id)
    assert data["urgent"] is True
    await ok(client, "message.send", to="worker", message="fyi", kind="info")
    await ok(client, "message.send", to="worker", message="rejected: no", kind="ack")
    await ok(client, "message.send", to="worker", message="do it", kind="weird")
    assert await town.channel.urgent_len(worker.id) == 1
    inbox = await ok(client, "agent.inbox", agent=str(worker.id))
    assert [(m["type"], m["summary"]) for m in inbox["messages"]] == [
        ("info", "fyi"), ("confirmation", 'Rejected { reason: "no" }'), ("task", "do it"),
    ]  # fmt: skip
    raw = await town.redis.execute("LRANGE", town.channel.keys.urgent(worker.id), 0, -1)
    assert str(boss.id) in raw[0]
    assert data["message_id"] in raw[0]


async def test_backlog_add_list_claim_assign_all_remove(client: Client, town: Town) -> None:
    worker = await add_agent(town, "worker")
    a = await ok(client, "backlog.add", description="first", tags=["review", "code"])
    b = await ok(client, "backlog.add", description="second")
    c = await ok(client, "backlog.add", description="third")
    listed = await ok(client, "backlog.list")
    assert listed == [
        {"task_id": a["task_id"], "description": "first", "tags": ["review", "code"]},
        {"task_id": b["task_id"], "description": "second", "tags": []},
        {"task_id": c["task_id"], "description": "third", "tags": []},
    ]
    claimed = await ok(client, "backlog.claim", task_id=a["task_id"], agent="worker")
    assert claimed == {"task_id": a["task_id"], "agent_id": str(worker.id), "agent_name": "worker"}
    removed = await ok(client, "backlog.remove", task_id=c["task_id"])
    assert removed == {"task_id": c["task_id"], "removed": True}
    assert await town.channel.get_task(TaskId.parse(c["task_id"])) is None
    rest = await ok(client, "backlog.assign_all", agent="worker")
    assert rest == [{"task_id": b["task_id"], "agent_id": str(worker.id), "agent_name": "worker"}]
    assert await ok(client, "backlog.list") == []
    kinds = [m.kind for m in await town.channel.peek(worker.id)]
    assert [k.task_id for k in kinds if isinstance(k, MessageType.TaskAssign)] == [
        a["task_id"], b["task_id"],
    ]  # fmt: skip


async def test_errors_are_envelopes(client: Client, town: Town) -> None:
    assert await fails(client, "agent.inbox", agent="worker-99") == "Agent not found: worker-99"
    assert "Agent not found: nobody" in await fails(
        client, "task.assign", agent="nobody", description="x"
    )
    assert await fails(client, "task.assign", agent="supervisor") == (
        "Missing required argument: description"
    )
    assert await fails(client, "backlog.add", description="x", tags="a,b") == (
        "Argument 'tags' must be an array of strings"
    )
    assert "Invalid task ID" in await fails(client, "task.complete", task_id="not-a-uuid")
    missing = str(TaskId.new())
    assert await fails(client, "task.complete", task_id=missing) == f"Task not found: {missing}"
    assert await fails(client, "backlog.remove", task_id=missing) == (
        f"Task {missing} not found in backlog"
    )
    assert "Unknown tool" in await fails(client, "town.nothing")
    assert await town.redis.execute("LLEN", town.channel.keys.backlog) == 0
