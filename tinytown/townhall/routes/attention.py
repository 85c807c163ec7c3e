"""The "needs you" inbox over HTTP: the ranked list, and the actions only it needs.

``GET /v1/attention`` (``town.read``) lists what needs a human now.
Answering a question (``town.write``) and deciding a reviewer gate
(``agent.manage``, like the other mission controls) are the two actions that
no other route offers; restart and reclaim go through their own routes.
"""

from __future__ import annotations

from typing import Any, Final

from quart import Blueprint
from quart_schema import document_response

from tinytown.runtime.attention import attention as gather
from tinytown.services import missions as mission_service
from tinytown.services import queries
from tinytown.services.attention_rank import entry_to_dict
from tinytown.townhall.context import ctx
from tinytown.townhall.models import (
    Answered,
    AnswerRequest,
    Attention,
    GateDecision,
    GateDecisionRequest,
)
from tinytown.townhall.pipeline import json_body, protected

bp = Blueprint("attention", __name__)
READ: Final = "town.read"
WRITE: Final = "town.write"
MANAGE: Final = "agent.manage"


@bp.get("/v1/attention")
@protected(READ)
@document_response(Attention)
async def attention() -> dict[str, Any]:
    """What needs a human now, the most pressing first, with the actions that resolve each."""
    entries = await gather(ctx().town)
    return {"count": len(entries), "entries": [entry_to_dict(e) for e in entries]}


@bp.post("/v1/queries/<message_id>/answer")
@protected(WRITE)
@json_body(AnswerRequest)
@document_response(Answered, 201)
async def answer(message_id: str, body: AnswerRequest) -> tuple[dict[str, Any], int]:
    """Answer an agent's question to the supervisor: the reply goes to the asker's inbox."""
    return queries.answered(await queries.answer(ctx().town, message_id, body.answer)), 201


def _decision(mission_id: str, item: Any) -> dict[str, Any]:
    return {"mission_id": mission_id, "work_item_id": str(item.id),
            "status": item.status.value, "reviewer_approved": item.reviewer_approved}


@bp.post("/v1/missions/<mission_id>/work/<work_item_id>/approve")
@protected(MANAGE)
@document_response(GateDecision)
async def approve(mission_id: str, work_item_id: str) -> dict[str, Any]:
    """Approve a work item waiting at the reviewer gate."""
    item, _outcome = await mission_service.approve(ctx().town, mission_id, work_item_id)
    return _decision(mission_id, item)


@bp.post("/v1/missions/<mission_id>/work/<work_item_id>/reject")
@protected(MANAGE)
@json_body(GateDecisionRequest)
@document_response(GateDecision)
async def reject(mission_id: str, work_item_id: str, body: GateDecisionRequest
                 ) -> dict[str, Any]:
    """Request changes on a work item at the reviewer gate (a reason is required)."""
    item, _outcome = await mission_service.reject(ctx().town, mission_id, work_item_id,
                                                  body.reason)
    return _decision(mission_id, item)
