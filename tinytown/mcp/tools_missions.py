"""The mission tools of 0.10 (mcp.md §3.1–§3.2) over :mod:`tinytown.services.missions`.

Pause, resume and operator input go through the dispatcher as 0.10's tools do:
a control message from ``mcp`` is queued and one dispatcher tick applies it.
Resources about missions live in :mod:`tinytown.mcp.resources`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from tinytown.codec.mission_codec import (
    control_to_dict,
    mission_to_dict,
    watch_to_dict,
    work_item_to_dict,
)
from tinytown.errors import InvalidInputError, NotFoundError, TinytownError
from tinytown.mcp.args import Arg, Args, opt, req
from tinytown.mcp.mission_views import dispatch, mission_status, summary
from tinytown.mcp.spec import READ, WRITE, Handler, ToolSpec
from tinytown.mission.store import MissionStore
from tinytown.mission.submission import Outcome
from tinytown.mission.tick import tick_missions
from tinytown.models import SUPERVISOR, Message, MessageType
from tinytown.models.mission import MissionRun, MissionState, WorkItem, WorkKind, WorkStatus
from tinytown.services import missions as svc
from tinytown.town import Town, utcnow

SENDER: Final = "mcp"

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


# --- reading ------------------------------------------------------------------------------


async def list_missions(town: Town, args: Args) -> Any:
    found = await svc.list_missions(town, include_all=args.flag("all"),
                                    state=args.opt_text("status"))
    return {"missions": [mission_to_dict(m) for m in found], "count": len(found)}


async def _status(town: Town, args: Args, *, forced: bool) -> Any:
    st = await svc.status(town, args.text("mission_id"), events=10)
    return mission_status(
        st.mission, st.items, st.watches, st.controls, st.events,
        work=forced or args.flag("include_work"),
        watch=forced or args.flag("include_watch"),
        with_events=args.flag("include_events"),
        dispatcher=forced or args.flag("include_dispatcher"),
    )  # fmt: skip


async def get_status(town: Town, args: Args) -> Any:
    return await _status(town, args, forced=False)


async def full_status(town: Town, args: Args) -> Any:
    return await _status(town, args, forced=True)


async def list_work(town: Town, args: Args) -> Any:
    items = await svc.work_items(town, args.text("mission_id"), args.opt_text("status"))
    return {"mission_id": args.text("mission_id"), "count": len(items),
            "items": [work_item_to_dict(i) for i in items]}


async def list_watches(town: Town, args: Args) -> Any:
    found = await svc.watches(town, args.text("mission_id"), args.opt_text("status"))
    return {"mission_id": args.text("mission_id"), "count": len(found),
            "items": [watch_to_dict(w) for w in found]}


async def get_events(town: Town, args: Args) -> Any:
    count = args.opt_int("count")
    lines = await svc.events(town, args.text("mission_id"), 20 if count is None else count)
    return {"mission_id": args.text("mission_id"), "count": len(lines), "events": lines}


# --- steering -----------------------------------------------------------------------------


async def start(town: Town, args: Args) -> Any:
    issues, docs = args.texts("issues"), args.texts("docs")
    if not issues and not docs:
        raise InvalidInputError("At least one issue or doc objective is required")
    parallel = args.opt_int("max_parallel")
    started = await svc.start(
        town, issues, docs, max_parallel=2 if parallel is None else parallel,
        reviewer_required=not args.flag("no_reviewer"), via="MCP",
    )  # fmt: skip
    return {
        "mission": mission_to_dict(started.mission),
        "invalid_issues": started.invalid_issues,
        "objective_count": len(started.mission.objective_refs),
        "work_item_count": len(started.items),
        "scheduler_bootstrap": summary(started.bootstrap),
    }


async def _item(town: Town, mission_id: str, work_item_id: str) -> WorkItem:
    for item in await svc.work_items(town, mission_id):
        if item.id.text == work_item_id.strip().lower():
            return item
    raise NotFoundError(f"Work item not found: {work_item_id}")


_OUTCOME_ERRORS: Final = {
    Outcome.MISSION_NOT_FOUND: "Mission not found",
    Outcome.ITEM_NOT_FOUND: "Work item not found",
    Outcome.REVIEWER_APPROVAL_REQUIRED: "Reviewer approval is still required",
}


async def _tick_active(town: Town) -> dict[str, Any]:
    ids = await MissionStore(town.channel).active_ids()
    return summary(await tick_missions(town, ids, utcnow()))


def reviewable(mission: MissionRun, items: Sequence[WorkItem]) -> list[WorkItem]:
    """Items ``mission.approve`` may pick by itself: blocked, unapproved implement/test work
    with an artifact, in a mission that requires a reviewer (0.10's rule)."""
    if not mission.policy.reviewer_required:
        return []
    return [
        i
        for i in items
        if i.status is WorkStatus.BLOCKED
        and not i.reviewer_approved
        and i.artifact_refs
        and i.kind in (WorkKind.IMPLEMENT, WorkKind.TEST)
    ]


async def approve(town: Town, args: Args) -> Any:
    mid, wid = args.text("mission_id"), args.opt_text("work_item_id")
    if wid is not None:
        await _item(town, mid, wid)
    else:
        mission = await svc.require(town, mid)
        found = reviewable(mission, await svc.work_items(town, mid))
        if len(found) != 1:
            many = "Multiple reviewable blocked work items found" if found else (
                "No reviewable blocked work item found")
            raise TinytownError(f"{many}; provide work_item_id explicitly")
        wid = found[0].id.text
    item, outcome = await svc.approve(town, mid, wid)
    if outcome in _OUTCOME_ERRORS:
        raise TinytownError(_OUTCOME_ERRORS[outcome])
    return {"mission_id": item.mission_id.text, "work_item_id": item.id.text,
            "status": outcome.value, "scheduler_result": await _tick_active(town)}


async def reject(town: Town, args: Args) -> Any:
    mid, wid, reason = args.text("mission_id"), args.text("work_item_id"), args.text("reason")
    await _item(town, mid, wid)
    item, outcome = await svc.reject(town, mid, wid, reason)
    if outcome in _OUTCOME_ERRORS:
        raise TinytownError(_OUTCOME_ERRORS[outcome])
    return {"mission_id": item.mission_id.text, "work_item_id": item.id.text,
            "status": outcome.value, "reason": reason, "scheduler_result": await _tick_active(town)}


async def _directive(town: Town, mission_id: str, word: str) -> None:
    await svc.note(town, mission_id, f"{word} requested via mission.{word}", sender=SENDER)
    await svc.dispatch_once(town, mission_id)


async def pause(town: Town, args: Args) -> Any:
    mission = await svc.require(town, args.text("mission_id"))
    mid = mission.id.text
    if mission.state.is_terminal:
        raise TinytownError(f"Mission {mid} is terminal and cannot be paused")
    if mission.state is not MissionState.RUNNING:
        raise TinytownError(f"Mission {mid} is not running and cannot be paused")
    await _directive(town, mid, "pause")
    return {"mission_id": mid, "directive": "pause", "status": "queued_and_processed"}


_NO_RESUME: Final = {
    MissionState.RUNNING: "is already running",
    MissionState.COMPLETED: "is already completed",
    MissionState.FAILED: "has failed and cannot be resumed",
    MissionState.PLANNING: "is not blocked and cannot be resumed",
}


async def resume(town: Town, args: Args) -> Any:
    mission = await svc.require(town, args.text("mission_id"))
    mid = mission.id.text
    if mission.state in _NO_RESUME:
        raise TinytownError(f"Mission {mid} {_NO_RESUME[mission.state]}")
    await _directive(town, mid, "resume")
    after = await svc.require(town, mid)
    if after.state is MissionState.RUNNING:
        await MissionStore(town.channel).activate(after.id)
    return {"mission_id": mid, "directive": "resume", "status": "queued_and_processed"}


async def run_dispatch(town: Town, args: Args) -> Any:
    return dispatch(await svc.dispatch_once(town, args.opt_text("mission_id")))


async def note(town: Town, args: Args) -> Any:
    sender = args.opt_text("sender") or SENDER
    control = await svc.note(town, args.text("mission_id"), args.text("message"), sender=sender)
    return {"note": control_to_dict(control)}


async def operator_input(town: Town, args: Args) -> Any:
    mid, wid, response = args.text("mission_id"), args.text("work_item_id"), args.text("response")
    mission = await svc.require(town, mid)
    try:
        item = await _item(town, mid, wid)
    except NotFoundError:
        raise NotFoundError(f"Work item {wid} not found in mission {mid}") from None
    await svc.note(town, mid, f"operator input for work item {item.id.text}: {response}",
                   sender=SENDER)
    forwarded = None
    if item.assigned_to is not None:
        agent = await town.channel.get_agent(item.assigned_to)
        if agent is not None:
            text = f"[Mission Input] Mission {mission.id.text} work item {item.id.text}: {response}"
            await town.channel.send_urgent(Message(
                from_=SUPERVISOR, to=agent.id, kind=MessageType.Informational(summary=text)))
            forwarded = agent.name
    return {"mission_id": mission.id.text, "work_item_id": item.id.text,
            "forwarded_to": forwarded, "recorded": True}


async def stop(town: Town, args: Args) -> Any:
    mission = await svc.require(town, args.text("mission_id"))
    if mission.state.is_terminal:
        raise TinytownError(f"Mission {mission.id.text} is terminal and cannot be stopped")
    force = args.flag("force")
    stopped = await svc.stop(town, mission.id.text, force=force, via="MCP")
    return {"mission": mission_to_dict(stopped), "force": force}


def _spec(
    name: str, description: str, scope: str, args: tuple[Arg, ...], handler: Handler
) -> ToolSpec:
    return ToolSpec(name, description, args, handler, scope, read_only=scope == READ)


MISSION_READ_TOOLS: tuple[ToolSpec, ...] = (
    _spec(
        "mission.list",
        "List missions (active ones unless all or status is given)",
        READ,
        (
            opt("all", "boolean", "Every mission, not only active ones", default=False),
            opt("status", "string", "planning|running|blocked|completed|failed"),
        ),
        list_missions,
    ),
    _spec("mission.get_status", "A mission's status", READ, _STATUS_ARGS, get_status),
    _spec("mission.status", "A mission's status with work, watches and dispatcher", READ,
          _STATUS_ARGS, full_status),
    _spec("mission.list_work", "A mission's work items", READ, _WORK_ARGS, list_work),
    _spec("mission.work_items", "Alias of mission.list_work", READ, _WORK_ARGS, list_work),
    _spec("mission.list_watches", "A mission's watches", READ, _WATCH_ARGS, list_watches),
    _spec("mission.watches", "Alias of mission.list_watches", READ, _WATCH_ARGS, list_watches),
    _spec("mission.get_events", "A mission's recent events", READ, _EVENT_ARGS, get_events),
    _spec("mission.events", "Alias of mission.get_events", READ, _EVENT_ARGS, get_events),
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
        start,
    ),
    _spec("mission.approve", "Approve a blocked work item", WRITE,
          (_ID, opt("work_item_id", "string", "The work item (default: the only reviewable one)")),
          approve),
    _spec(
        "mission.reject",
        "Request changes on a work item",
        WRITE,
        (_ID, req("work_item_id", "string", "The work item"), req("reason", "string", "Why")),
        reject,
    ),
    _spec("mission.pause", "Pause a running mission", WRITE, (_ID,), pause),
    _spec("mission.resume", "Resume a blocked mission", WRITE, (_ID,), resume),
    _spec("mission.dispatch", "Run one dispatcher tick", WRITE,
          (opt("mission_id", "string", "Only this mission"),), run_dispatch),
    _spec(
        "mission.note",
        "Queue an operator note for the dispatcher",
        WRITE,
        (_ID, req("message", "string", "The note"), opt("sender", "string", "Default: mcp")),
        note,
    ),
    _spec(
        "mission.input",
        "Answer a work item's request for input",
        WRITE,
        (_ID, req("work_item_id", "string", "The work item"), req("response", "string", "Answer")),
        operator_input,
    ),
    _spec("mission.stop", "Stop a mission", WRITE,
          (_ID, opt("force", "boolean", "Mark it failed", default=False)), stop),
)
