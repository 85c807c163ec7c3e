"""What the server offers, exactly: 0.10's 42 tools (then our two attention tools),
4 resources, 3 templates, 2 prompts (mcp.md §3–§5)."""

from __future__ import annotations

from mcp import Client

from tinytown.mcp.server import INSTRUCTIONS

READ_ONLY = {
    "town.get_status", "agent.list", "agent.list_open", "agent.inbox", "task.list_pending",
    "backlog.list", "mission.list", "mission.get_status", "mission.status", "mission.list_work",
    "mission.work_items", "mission.list_watches", "mission.watches", "mission.get_events",
    "mission.events", "agent.wait", "agent.get_result", "attention.list",
}  # fmt: skip
TOOLS = [
    # read group
    "town.get_status", "agent.list", "agent.list_open", "agent.inbox", "task.list_pending",
    "backlog.list", "mission.list", "mission.get_status", "mission.status", "mission.list_work",
    "mission.work_items", "mission.list_watches", "mission.watches", "mission.get_events",
    "mission.events",
    # write group
    "task.assign", "task.complete", "message.send", "backlog.add", "backlog.claim",
    "backlog.assign_all", "backlog.remove", "mission.start", "mission.approve", "mission.reject",
    "mission.pause", "mission.resume", "mission.dispatch", "mission.note", "mission.input",
    "mission.stop",
    # agent management
    "agent.spawn", "agent.kill", "agent.interrupt", "agent.wait", "agent.resume", "agent.close",
    "agent.restart", "agent.prune", "agent.get_result", "recovery.recover_agents",
    "recovery.reclaim_tasks",
]  # fmt: skip
OURS = ["attention.list", "attention.answer"]
REQUIRED = {
    "agent.inbox": ["agent"],
    "task.assign": ["agent", "description"],
    "task.complete": ["task_id"],
    "message.send": ["to", "message"],
    "backlog.add": ["description"],
    "backlog.claim": ["task_id", "agent"],
    "mission.reject": ["mission_id", "work_item_id", "reason"],
    "agent.spawn": ["name"],
    "attention.answer": ["message_id", "answer"],
    "town.get_status": [],
}


async def test_tools_in_registration_order_with_hints_and_schemas(client: Client) -> None:
    listed = (await client.list_tools()).tools
    assert len(TOOLS) == 42
    assert [t.name for t in listed] == TOOLS + OURS
    for tool in listed:
        hint = tool.annotations.read_only_hint if tool.annotations else None
        assert (hint is True) == (tool.name in READ_ONLY), tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.description
    by_name = {t.name: t for t in listed}
    for name, required in REQUIRED.items():
        assert by_name[name].input_schema.get("required", []) == required, name
    send = by_name["message.send"].input_schema["properties"]
    assert set(send) == {"to", "message", "from", "kind", "urgent"}
    assert send["kind"]["default"] == "task"
    assert send["urgent"]["default"] is False
    assert send["from"]["type"] == ["string", "null"]
    tags = by_name["backlog.add"].input_schema["properties"]["tags"]
    assert tags["items"] == {"type": "string"}


async def test_resources_templates_prompts(client: Client) -> None:
    resources = (await client.list_resources()).resources
    assert [(str(r.uri), r.name) for r in resources] == [
        ("tinytown://town/current", "Current Town"),
        ("tinytown://agents", "All Agents"),
        ("tinytown://backlog", "Backlog"),
        ("tinytown://missions", "Missions"),
    ]
    templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == [
        "tinytown://agents/{agent_name}",
        "tinytown://tasks/{task_id}",
        "tinytown://missions/{mission_id}",
    ]
    assert all(r.mime_type == "text/plain" for r in [*resources, *templates])
    prompts = (await client.list_prompts()).prompts
    assert [p.name for p in prompts] == ["conductor.startup_context", "agent.role_hint"]
    hint = prompts[1]
    assert [(a.name, a.required) for a in hint.arguments or []] == [
        ("agent_name", True),
        ("tags", False),
    ]
    assert prompts[0].arguments == []


async def test_server_identity(town: object) -> None:
    from tinytown.mcp.server import build_server

    server = build_server(town)  # type: ignore[arg-type]
    async with Client(server, mode="legacy") as legacy:
        info = legacy.session.server_info  # type: ignore[attr-defined]
        assert (info.name, info.version) == ("tinytown-mcp", "0.10.0")
    assert server.instructions == INSTRUCTIONS
    assert INSTRUCTIONS.startswith("Tinytown MCP interface for multi-agent orchestration.")
