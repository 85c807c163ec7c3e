"""The mission tools of 0.10 (mcp.md §3.1–§3.2), with their names and argument schemas.

Mission mode (``tinytown.services.missions``) is not part of this build yet:
every mission tool answers ``success: false`` with :data:`UNAVAILABLE`, so a
client sees the whole 0.10 surface and a clear reason instead of a missing tool.
"""

from __future__ import annotations

from typing import Any, Final

from tinytown.errors import TinytownError
from tinytown.mcp.args import Arg, Args, opt, req
from tinytown.mcp.spec import READ, WRITE, ToolSpec
from tinytown.town import Town

UNAVAILABLE: Final = "mission mode is not available in this build of tinytown"

_ID = req("mission_id", "string", "The mission's UUID")
_STATUS_ARGS = (
    _ID,
    opt("include_work", "boolean", "Include the work items", default=False),
    opt("include_watch", "boolean", "Include the watches", default=False),
    opt("include_events", "boolean", "Include the 10 most recent events", default=False),
    opt("include_dispatcher", "boolean", "Include the dispatcher state", default=False),
)
_WORK_ARGS = (_ID, opt("status", "string", "pending|ready|assigned|running|blocked|done"))
_WATCH_ARGS = (_ID, opt("status", "string", "active|snoozed|done"))
_EVENT_ARGS = (_ID, opt("count", "integer", "How many events (newest first)", default=20))


async def unavailable(_town: Town, _args: Args) -> Any:
    raise TinytownError(UNAVAILABLE)


def _spec(name: str, description: str, scope: str, args: tuple[Arg, ...]) -> ToolSpec:
    return ToolSpec(name, description, args, unavailable, scope, read_only=scope == READ)


MISSION_READ_TOOLS: tuple[ToolSpec, ...] = (
    _spec(
        "mission.list",
        "List missions (active ones unless all or status is given)",
        READ,
        (
            opt("all", "boolean", "Every mission, not only active ones", default=False),
            opt("status", "string", "planning|running|blocked|completed|failed"),
        ),
    ),
    _spec("mission.get_status", "A mission's status", READ, _STATUS_ARGS),
    _spec("mission.status", "A mission's status with work, watches and dispatcher", READ,
          _STATUS_ARGS),
    _spec("mission.list_work", "A mission's work items", READ, _WORK_ARGS),
    _spec("mission.work_items", "Alias of mission.list_work", READ, _WORK_ARGS),
    _spec("mission.list_watches", "A mission's watches", READ, _WATCH_ARGS),
    _spec("mission.watches", "Alias of mission.list_watches", READ, _WATCH_ARGS),
    _spec("mission.get_events", "A mission's recent events", READ, _EVENT_ARGS),
    _spec("mission.events", "Alias of mission.get_events", READ, _EVENT_ARGS),
)

MISSION_WRITE_TOOLS: tuple[ToolSpec, ...] = (
    _spec(
        "mission.start",
        "Start a mission from issues and documents",
        WRITE,
        (
            opt("issues", "string[]", "Issue references (#12, owner/repo#12, URLs)", default=[]),
            opt("docs", "string[]", "Document paths", default=[]),
            opt("max_parallel", "integer", "Work items run at once", default=2),
            opt("no_reviewer", "boolean", "Do not require a reviewer", default=False),
        ),
    ),
    _spec("mission.approve", "Approve a blocked work item", WRITE,
          (_ID, opt("work_item_id", "string", "The work item (default: the only reviewable one)"))),
    _spec(
        "mission.reject",
        "Request changes on a work item",
        WRITE,
        (_ID, req("work_item_id", "string", "The work item"), req("reason", "string", "Why")),
    ),
    _spec("mission.pause", "Pause a running mission", WRITE, (_ID,)),
    _spec("mission.resume", "Resume a blocked mission", WRITE, (_ID,)),
    _spec("mission.dispatch", "Run one dispatcher tick", WRITE,
          (opt("mission_id", "string", "Only this mission"),)),
    _spec(
        "mission.note",
        "Queue an operator note for the dispatcher",
        WRITE,
        (_ID, req("message", "string", "The note"), opt("sender", "string", "Default: mcp")),
    ),
    _spec(
        "mission.input",
        "Answer a work item's request for input",
        WRITE,
        (_ID, req("work_item_id", "string", "The work item"), req("response", "string", "Answer")),
    ),
    _spec("mission.stop", "Stop a mission", WRITE,
          (_ID, opt("force", "boolean", "Mark it failed", default=False))),
)
