"""Mission control routes (``agent.manage``, townhall.md §5.6).

They answer 501 problem+json until the mission services exist
(``tinytown.services.missions``); the paths, scopes and id checks are in place.
"""

from __future__ import annotations

import uuid

from quart import Blueprint, Response
from quart_schema import document_response

from tinytown.townhall.models import Problem
from tinytown.townhall.pipeline import problem, protected

bp = Blueprint("missions", __name__)
MANAGE = "agent.manage"
NOT_YET = "Mission control is not available in this version of townhall"


def _check_id(raw: str) -> Response | None:
    try:
        uuid.UUID(raw)
    except ValueError:
        return problem(400, f"invalid mission id '{raw}'")
    return None


async def _not_implemented(mission_id: str) -> Response:
    return _check_id(mission_id) or problem(501, NOT_YET)


@bp.post("/v1/missions/<mission_id>/stop")
@protected(MANAGE)
@document_response(Problem, 501)
async def stop(mission_id: str) -> Response:
    """Stop a mission (blocked; failed with force)."""
    return await _not_implemented(mission_id)


@bp.post("/v1/missions/<mission_id>/resume")
@protected(MANAGE)
@document_response(Problem, 501)
async def resume(mission_id: str) -> Response:
    """Resume a planning or blocked mission."""
    return await _not_implemented(mission_id)


@bp.post("/v1/missions/<mission_id>/complete")
@protected(MANAGE)
@document_response(Problem, 501)
async def complete(mission_id: str) -> Response:
    """Mark a mission completed."""
    return await _not_implemented(mission_id)


@bp.post("/v1/missions/<mission_id>/fail")
@protected(MANAGE)
@document_response(Problem, 501)
async def fail(mission_id: str) -> Response:
    """Mark a mission failed."""
    return await _not_implemented(mission_id)


@bp.delete("/v1/missions/<mission_id>")
@protected(MANAGE)
@document_response(Problem, 501)
async def delete(mission_id: str) -> Response:
    """Delete a mission and its keys."""
    return await _not_implemented(mission_id)
