"""The two prompts of 0.10 (mcp.md §5), their Markdown exactly as 0.10 writes it.

The text builders are pure; :func:`conductor_context` gathers the town state
(sections that cannot be read are left out, as in 0.10).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import attrs

from tinytown.errors import TinytownError
from tinytown.mcp.gather import backlog_items
from tinytown.services import agents as agent_svc
from tinytown.services.agents import AgentRow
from tinytown.town import Town

log = logging.getLogger("tinytown.mcp")


@attrs.frozen
class PromptArg:
    name: str
    description: str
    required: bool


@attrs.frozen
class PromptSpec:
    name: str
    description: str
    args: tuple[PromptArg, ...]


CONDUCTOR: Final = PromptSpec(
    "conductor.startup_context", "Generate startup context for the conductor agent", ()
)
ROLE_HINT: Final = PromptSpec(
    "agent.role_hint",
    "Generate role hints for an agent based on its name and tags",
    (
        PromptArg("agent_name", "Name of the agent to generate hints for", True),
        PromptArg("tags", "Comma-separated tags for role matching", False),
    ),
)
PROMPTS: Final = (CONDUCTOR, ROLE_HINT)
CONDUCTOR_RESULT: Final = "Conductor startup context with town state and available operations"

TOOLS_SECTION: Final = """## Available MCP Tools
- `town.get_status` - Get town status
- `agent.list` - List all agents
- `agent.spawn` - Spawn new agent
- `agent.kill` - Stop an agent
- `task.assign` - Assign task to agent
- `task.complete` - Mark task as completed
- `message.send` - Send message to agent
- `backlog.list/add/claim` - Manage backlog
- `mission.*` - Start, inspect, supervise, and control mission runs
- `recovery.*` - Recovery operations
"""

MISSION_SECTION: Final = """## Mission Mode Supervision
- `tt mission dispatch` is the persistent mission runtime
- Use `tt mission status --run <id> --dispatcher` to inspect dispatcher heartbeat and stuck reasons
- Watch the conductor mailbox for `[Mission Help Needed]` queries from the dispatcher
- Reply to dispatcher escalations with `tt mission note <id> "resume ..."` or `tt mission note <id> "pause ..."`
- Treat the dispatcher as the default orchestrator for mission-owned work; step in for staffing, blockers, and scope decisions
"""  # noqa: E501


def conductor_text(
    name: str,
    root: str,
    agents: Sequence[AgentRow] | None,
    backlog: Sequence[tuple[str, Sequence[str]]] | None,
) -> str:
    """The conductor startup Markdown; ``None`` for a section that could not be read."""
    out = ["# Tinytown Conductor Startup Context\n\n"]
    if agents is not None:
        out.append(f"## Town: {name}\n- Root: {root}\n- Agent count: {len(agents)}\n\n")
        if agents:
            out.append("## Active Agents\n")
            for row in agents:
                a = row.agent
                out.append(
                    f"- **{a.name}** ({a.cli}): {a.state.label}, "
                    f"{a.rounds_completed} rounds, {row.inbox} inbox\n"
                )
            out.append("\n")
    if backlog:
        out.append("## Backlog\n")
        for description, tags in backlog:
            suffix = f" [{', '.join(tags)}]" if tags else ""
            out.append(f"- {description}{suffix}\n")
        out.append("\n")
    out.append(TOOLS_SECTION)
    out.append("\n")
    out.append(MISSION_SECTION)
    return "".join(out)


async def conductor_context(town: Town) -> str:
    agents: list[AgentRow] | None
    try:
        agents = await agent_svc.list_agents(town)
    except TinytownError as exc:
        log.warning("conductor prompt: agents unreadable: %s", exc)
        agents = None
    backlog: list[tuple[str, list[str]]] | None
    try:
        backlog = [(b["description"], b["tags"]) for b in await backlog_items(town)]
    except TinytownError as exc:
        log.warning("conductor prompt: backlog unreadable: %s", exc)
        backlog = None
    return conductor_text(town.name, str(town.root), agents, backlog)


_ROLES: Final = (
    (("backend", "api"), "Backend Development", (
        "- Prioritize tasks tagged: backend, api, server, database",
        "- Handle: REST endpoints, data models, business logic")),
    (("frontend", "ui"), "Frontend Development", (
        "- Prioritize tasks tagged: frontend, ui, web, components",
        "- Handle: UI components, styling, user interactions")),
    (("test", "qa"), "Testing & QA", (
        "- Prioritize tasks tagged: test, qa, validation",
        "- Handle: Unit tests, integration tests, test coverage")),
    (("review",), "Code Review", (
        "- Prioritize tasks tagged: review, pr, feedback",
        "- Handle: PR reviews, code quality, suggestions")),
    (("supervisor", "conductor"), "Orchestration", (
        "- Coordinate other agents",
        "- Manage task distribution and progress tracking")),
)  # fmt: skip


def role_hint_text(agent_name: str, tags: str | None) -> str:
    """``agent.role_hint``: a pure function of its arguments."""
    lowered = agent_name.lower()
    lines = [f"# Role Hint for Agent: {agent_name}", ""]
    for needles, heading, bullets in _ROLES:
        if any(n in lowered for n in needles):
            lines += [f"## Suggested Focus: {heading}", *bullets]
            break
    else:
        lines += [
            "## General Worker",
            "- Handle any assigned tasks",
            "- Claim backlog tasks matching your capabilities",
        ]
    picked = [t.strip() for t in (tags or "").split(",") if t.strip()]
    if picked:
        lines += [
            "",
            f"## Tag Filters: {', '.join(picked)}",
            "- Prioritize backlog tasks matching these tags",
        ]
    return "\n".join(lines) + "\n"
