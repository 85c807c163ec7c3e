"""Mission routes over the mission services: control (``agent.manage``, townhall.md §5.6)
and the reads (``town.read``) 0.10's OpenAPI file promised but never served:
``GET /v1/missions`` (``?all=true`` or ``?state=…`` for every mission),
``/v1/missions/{id}``, ``/work`` and ``/watches`` (``?status=``), ``/events`` (``?count=20``).

Differences from 0.10, on purpose: a malformed id is a 400 and an unknown
mission a 404 as before, but resuming a finished mission or failing a
completed one is a 409 (the state conflicts), not a 400/200.
"""

from __future__ import annotations

from typing import Any, Final

from quart import Blueprint, request
from quart_schema import document_response

from tinytown.codec.mission_codec import (
    mission_to_dict,
    status_to_dict,
    watch_to_dict,
    work_item_to_dict,
)
from tinytown.errors import InvalidInputError, InvalidStateError
from tinytown.models.mission import MissionState
from tinytown.services import missions as mission_service
from tinytown.townhall.context import ctx
from tinytown.townhall.models import (
    MissionAction,
    MissionDeleted,
    MissionFailRequest,
    MissionStopRequest,
)
from tinytown.townhall.pipeline import json_body, protected

bp = Blueprint("missions", __name__)
MANAGE: Final = "agent.manage"
READ: Final = "town.read"
VIA: Final = "API"
DEFAULT_FAIL_REASON: Final = "Marked failed via API"


def _check_id(raw: str) -> str:
    return str(mission_service.parse_mission_id(raw))


@bp.post("/v1/missions/<mission_id>/stop")
@protected(MANAGE)
@json_body(MissionStopRequest, optional=True)
@document_response(MissionAction)
async def stop(mission_id: str, body: MissionStopRequest) -> dict[str, Any]:
    """Stop a mission: blocked (``Stopped by user``), or failed with ``force``."""
    mission = await mission_service.stop(ctx().town, _check_id(mission_id), force=body.force,
                                         via=VIA)
    return {"id": str(mission.id), "state": mission.state.value}


@bp.post("/v1/missions/<mission_id>/resume")
@protected(MANAGE)
@document_response(MissionAction)
async def resume(mission_id: str) -> dict[str, Any]:
    """Resume a blocked mission (a running one is left as it is)."""
    town = ctx().town
    mission = await mission_service.require(town, _check_id(mission_id))
    if mission.state.is_terminal:
        raise InvalidStateError(f"mission is {mission.state.value} and cannot be resumed")
    if mission.state is MissionState.RUNNING:
        return {"id": str(mission.id), "state": "running", "note": "already running"}
    done = await mission_service.resume(town, str(mission.id), via=VIA)
    doc: dict[str, Any] = {"id": str(done.mission.id), "state": done.mission.state.value}
    if not done.resumed:
        doc["note"] = f"not resumed: the mission is {done.mission.state.value}"
    return doc


@bp.post("/v1/missions/<mission_id>/complete")
@protected(MANAGE)
@document_response(MissionAction)
async def complete(mission_id: str) -> dict[str, Any]:
    """Mark a mission completed (work items are left as they are)."""
    town = ctx().town
    before = await mission_service.require(town, _check_id(mission_id))
    mission = await mission_service.complete(town, str(before.id), via=VIA)
    doc: dict[str, Any] = {"id": str(mission.id), "state": mission.state.value}
    if before.state is MissionState.COMPLETED:
        doc["note"] = "already completed"
    return doc


@bp.post("/v1/missions/<mission_id>/fail")
@protected(MANAGE)
@json_body(MissionFailRequest, optional=True)
@document_response(MissionAction)
async def fail(mission_id: str, body: MissionFailRequest) -> dict[str, Any]:
    """Mark a mission failed with a reason (not a completed one: 409)."""
    reason = (body.reason or "").strip() or DEFAULT_FAIL_REASON
    mission = await mission_service.fail(ctx().town, _check_id(mission_id), reason, via=VIA)
    return {"id": str(mission.id), "state": mission.state.value, "reason": reason}


@bp.delete("/v1/missions/<mission_id>")
@protected(MANAGE)
@document_response(MissionDeleted)
async def delete(mission_id: str) -> dict[str, Any]:
    """Delete a mission and its work, watch, event and control keys."""
    mid = _check_id(mission_id)
    await mission_service.delete(ctx().town, mid)
    return {"id": mid, "deleted": True}


# --- reads ---------------------------------------------------------------------------------


def _flag(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return False
    if raw.lower() not in ("true", "false", "1", "0"):
        raise InvalidInputError(f"Invalid query parameter {name}={raw!r}: expected true or false")
    return raw.lower() in ("true", "1")


@bp.get("/v1/missions")
@protected(READ)
async def list_missions() -> dict[str, Any]:
    """Active missions; every mission with ``all=true``, or those in ``state``."""
    found = await mission_service.list_missions(ctx().town, include_all=_flag("all"),
                                                state=request.args.get("state"))
    return {"missions": [mission_to_dict(m) for m in found], "count": len(found)}


@bp.get("/v1/missions/<mission_id>")
@protected(READ)
async def get_mission(mission_id: str) -> dict[str, Any]:
    """One mission with its work items, watches and 20 newest log lines."""
    st = await mission_service.status(ctx().town, _check_id(mission_id), events=20)
    return status_to_dict(st.mission, st.items, st.watches, st.events)


@bp.get("/v1/missions/<mission_id>/work")
@protected(READ)
async def list_work(mission_id: str) -> dict[str, Any]:
    """A mission's work items (``status`` filters)."""
    mid = _check_id(mission_id)
    items = await mission_service.work_items(ctx().town, mid, request.args.get("status"))
    return {"mission_id": mid, "count": len(items),
            "items": [work_item_to_dict(i) for i in items]}


@bp.get("/v1/missions/<mission_id>/watches")
@protected(READ)
async def list_watches(mission_id: str) -> dict[str, Any]:
    """A mission's PR watches (``status`` filters)."""
    mid = _check_id(mission_id)
    found = await mission_service.watches(ctx().town, mid, request.args.get("status"))
    return {"mission_id": mid, "count": len(found), "items": [watch_to_dict(w) for w in found]}


@bp.get("/v1/missions/<mission_id>/events")
@protected(READ)
async def list_events(mission_id: str) -> dict[str, Any]:
    """A mission's log lines, newest first (``count``, default 20)."""
    mid = _check_id(mission_id)
    raw = request.args.get("count", "20")
    try:
        count = int(raw)
    except ValueError:
        raise InvalidInputError(f"Invalid query parameter count={raw!r}") from None
    found = await mission_service.events(ctx().town, mid, count)
    return {"mission_id": mid, "count": len(found), "events": found}
