"""Resources and resource templates (mcp.md §4): read-only snapshots as JSON text.

A failed read is answered as resource text (``Agent not found: x``), never as
a JSON-RPC error, as in 0.10. ``tinytown://tasks/{task_id}`` finds any task
(0.10 found only backlog tasks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import unquote

import attrs

from tinytown.errors import (
    InvalidInputError,
    MissionNotFoundError,
    TaskNotFoundError,
    TinytownError,
)
from tinytown.mcp.gather import agents_brief, backlog_items, town_header
from tinytown.mcp.mission_views import mission_brief, mission_details
from tinytown.mcp.views import agent_brief, dump, task_view
from tinytown.models import TaskId
from tinytown.services import agents as agent_svc
from tinytown.services import missions as mission_svc
from tinytown.town import Town

MIME: Final = "text/plain"


@attrs.frozen
class ResourceSpec:
    """A static resource (``uri``) or a template (``uri`` holds one ``{variable}``)."""

    uri: str
    name: str
    description: str


RESOURCES: Final = (
    ResourceSpec("tinytown://town/current", "Current Town",
                 "Current town state including configuration and summary"),
    ResourceSpec("tinytown://agents", "All Agents", "List of all agents in the town"),
    ResourceSpec("tinytown://backlog", "Backlog", "Current task backlog"),
    ResourceSpec("tinytown://missions", "Missions", "List of all mission runs known to the town"),
)
TEMPLATES: Final = (
    ResourceSpec("tinytown://agents/{agent_name}", "Agent Details",
                 "Details for a specific agent by name"),
    ResourceSpec("tinytown://tasks/{task_id}", "Task Details", "Details for a specific task by ID"),
    ResourceSpec("tinytown://missions/{mission_id}", "Mission Details",
                 "Detailed mission state including work items, watches, control messages, "
                 "and recent events"),
)


async def _town(town: Town) -> str:
    agents = await agents_brief(town)
    return dump({**town_header(town), "agent_count": len(agents), "agents": agents})


async def _agents(town: Town) -> str:
    return dump(await agents_brief(town))


async def _backlog(town: Town) -> str:
    return dump(await backlog_items(town))


async def _missions(town: Town) -> str:
    return dump([mission_brief(m) for m in await mission_svc.list_missions(town, include_all=True)])


async def _agent(town: Town, name: str) -> str:
    """The agent whose canonical name is exactly ``name`` (no other resolution, as 0.10)."""
    for row in await agent_svc.list_agents(town):
        if row.agent.name == name:
            return dump(agent_brief(row))
    return f"Agent not found: {name}"


async def _task(town: Town, raw: str) -> str:
    try:
        tid = TaskId.parse(raw)
    except TinytownError:
        return f"Invalid task ID: {raw}"
    task = await town.channel.get_task(tid)
    if task is None:
        return str(TaskNotFoundError(raw))
    return dump(task_view(task))


async def _mission(town: Town, raw: str) -> str:
    try:
        st = await mission_svc.status(town, raw, events=25)
    except MissionNotFoundError:
        return f"Mission not found: {raw}"
    except InvalidInputError as exc:
        return str(exc)
    return dump(mission_details(st.mission, st.items, st.watches, st.controls, st.events))


_STATIC: Final[dict[str, Callable[[Town], Awaitable[str]]]] = {
    "tinytown://town/current": _town,
    "tinytown://agents": _agents,
    "tinytown://backlog": _backlog,
    "tinytown://missions": _missions,
}
_TEMPLATED: Final[dict[str, Callable[[Town, str], Awaitable[str]]]] = {
    "tinytown://agents/": _agent,
    "tinytown://tasks/": _task,
    "tinytown://missions/": _mission,
}


class UnknownResourceError(TinytownError):
    """No resource or template matches a URI."""


async def read_resource(town: Town, uri: str) -> str:
    """The text of a resource; a town error becomes ``Error: <message>`` text.

    Raises:
        UnknownResourceError: no resource or template matches ``uri``.
    """
    reader = _STATIC.get(uri)
    try:
        if reader is not None:
            return await reader(town)
        for prefix, templated in _TEMPLATED.items():
            rest = uri[len(prefix) :] if uri.startswith(prefix) else ""
            if rest and "/" not in rest:
                return await templated(town, unquote(rest))
    except TinytownError as exc:
        return f"Error: {exc}"
    raise UnknownResourceError(f"Unknown resource: {uri}")
