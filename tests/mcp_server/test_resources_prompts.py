"""Resources, templates and prompts through the SDK's client (mcp.md §4, §5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tinytown.api import Town
from tinytown.mcp.prompts import role_hint_text
from tinytown.models import AgentState, TaskId

from .test_tools_tasks import add_agent


async def read(client: Client, uri: str) -> str:
    result = await client.read_resource(uri)
    (content,) = result.contents
    assert content.mime_type == "text/plain"
    text: str = content.text  # type: ignore[union-attr]
    return text


async def read_json(client: Client, uri: str) -> Any:
    return json.loads(await read(client, uri))


async def test_static_resources(client: Client, town: Town) -> None:
    worker = await add_agent(town, "worker")
    await town.assign(worker.id, "a task")
    current = await read_json(client, "tinytown://town/current")
    assert (current["name"], current["agent_count"]) == (town.name, 1)
    assert current["agents"] == [{
        "id": str(worker.id), "name": "worker", "cli": "claude", "state": "Idle",
        "rounds_completed": 0, "tasks_completed": 0, "inbox_len": 1, "urgent_len": 0,
    }]  # fmt: skip
    assert await read_json(client, "tinytown://agents") == current["agents"]
    assert await read_json(client, "tinytown://backlog") == []
    await client.call_tool("backlog.add", {"description": "later", "tags": ["x"]})
    (entry,) = await read_json(client, "tinytown://backlog")
    assert (entry["description"], entry["tags"]) == ("later", ["x"])
    assert await read_json(client, "tinytown://missions") == []


async def test_templates(client: Client, town: Town) -> None:
    worker = await add_agent(town, "worker")
    agent = await read_json(client, "tinytown://agents/worker")
    assert agent["id"] == str(worker.id)
    assert await read(client, "tinytown://agents/Work") == "Agent not found: Work"
    assigned = await town.assign(worker.id, "not in the backlog")
    task = await read_json(client, f"tinytown://tasks/{assigned.id}")
    assert (task["task_id"], task["description"], task["state"]) == (
        str(assigned.id), "not in the backlog", "assigned")
    missing = TaskId.new()
    assert await read(client, f"tinytown://tasks/{missing}") == f"Task not found: {missing}"
    assert await read(client, "tinytown://tasks/nope") == "Invalid task ID: nope"
    assert await read(client, "tinytown://missions/x") == "Invalid mission ID: x"
    with pytest.raises(MCPError, match="Unknown resource"):
        await client.read_resource("tinytown://elsewhere")


async def test_conductor_prompt_exact_text(client: Client, town: Town) -> None:
    worker = await add_agent(town, "backend-1")
    await add_agent(town, "gone", AgentState.STOPPED)
    await town.assign(worker.id, "x")
    await client.call_tool("backlog.add", {"description": "Fix login", "tags": ["auth", "bug"]})
    await client.call_tool("backlog.add", {"description": "Plain"})
    result = await client.get_prompt("conductor.startup_context")
    assert result.description == (
        "Conductor startup context with town state and available operations")
    (message,) = result.messages
    assert message.role == "user"
    text = message.content.text  # type: ignore[union-attr]
    head = (
        "# Tinytown Conductor Startup Context\n\n"
        f"## Town: {town.name}\n- Root: {town.root}\n- Agent count: 2\n\n"
        "## Active Agents\n"
    )
    assert text.startswith(head)
    assert "- **backend-1** (claude): Idle, 0 rounds, 1 inbox\n" in text
    assert "- **gone** (claude): Stopped, 0 rounds, 0 inbox\n" in text
    assert "\n## Backlog\n- Fix login [auth, bug]\n- Plain\n\n## Available MCP Tools\n" in text
    assert "- `backlog.list/add/claim` - Manage backlog\n" in text
    assert text.endswith(
        "- Treat the dispatcher as the default orchestrator for mission-owned work; "
        "step in for staffing, blockers, and scope decisions\n"
    )


async def test_role_hint_prompt(client: Client) -> None:
    result = await client.get_prompt("agent.role_hint", {"agent_name": "api-dev", "tags": "a, b"})
    assert result.description == "Role hints for agent api-dev"
    assert result.messages[0].content.text == (  # type: ignore[union-attr]
        "# Role Hint for Agent: api-dev\n\n"
        "## Suggested Focus: Backend Development\n"
        "- Prioritize tasks tagged: backend, api, server, database\n"
        "- Handle: REST endpoints, data models, business logic\n"
        "\n## Tag Filters: a, b\n- Prioritize backlog tasks matching these tags\n"
    )
    with pytest.raises(MCPError, match="agent_name"):
        await client.get_prompt("agent.role_hint", {})


@pytest.mark.parametrize(
    ("name", "heading"),
    [("frontend-x", "Frontend Development"), ("qa1", "Testing & QA"), ("reviewer", "Code Review"),
     ("conductor", "Orchestration"), ("bob", None)],
)
def test_role_hint_table(name: str, heading: str | None) -> None:
    text = role_hint_text(name, None)
    wanted = f"## Suggested Focus: {heading}\n" if heading else "## General Worker\n"
    assert wanted in text
    assert "Tag Filters" not in text
