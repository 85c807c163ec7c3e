"""JSON of mission records, byte-compatible with tinytown 0.10 (missions.md §2).

Keys in 0.10's order, compact separators, optional fields written as ``null``.
On read, missing optional fields default; ``merge_gate`` is accepted for
``mergegate``; any defect raises :class:`CorruptRecordError` naming the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from tinytown.codec.timestamps import json_ts, parse_ts
from tinytown.errors import CorruptRecordError
from tinytown.models import AgentId
from tinytown.models.mission import (
    ControlMessage,
    DocRef,
    IssueRef,
    MissionId,
    MissionPolicy,
    MissionRun,
    MissionState,
    ObjectiveRef,
    TriggerAction,
    WatchId,
    WatchItem,
    WatchKind,
    WatchStatus,
    WorkItem,
    WorkItemId,
    WorkKind,
    WorkStatus,
)

T = TypeVar("T")

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else json_ts(value)


def _opt_ts(value: Any) -> datetime | None:
    return None if value is None else parse_ts(value)


def _decode(text: str | bytes, where: str, build: Callable[[dict[str, Any]], T]) -> T:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CorruptRecordError(where, f"invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CorruptRecordError(where, "JSON is not an object")
    try:
        return build(data)
    except Exception as exc:  # every decoding defect is the same kind of corruption
        raise CorruptRecordError(where, f"{type(exc).__name__}: {exc}") from None


# --- objectives and policy -------------------------------------------------------------


def objective_to_dict(ref: ObjectiveRef) -> dict[str, Any]:
    if isinstance(ref, IssueRef):
        return {"type": "issue", "owner": ref.owner, "repo": ref.repo, "number": ref.number}
    return {"type": "doc", "path": ref.path}


def objective_from_dict(data: dict[str, Any]) -> ObjectiveRef:
    kind = data.get("type")
    if kind == "issue":
        number = data["number"]
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValueError(f"issue number is not an integer: {number!r}")
        return IssueRef(owner=str(data["owner"]), repo=str(data["repo"]), number=number)
    if kind == "doc":
        return DocRef(path=str(data["path"]))
    raise ValueError(f"unknown objective type {kind!r}")


def policy_to_dict(policy: MissionPolicy) -> dict[str, Any]:
    return {
        "max_parallel_items": policy.max_parallel_items,
        "reviewer_required": policy.reviewer_required,
        "auto_merge": policy.auto_merge,
        "watch_interval_secs": policy.watch_interval_secs,
    }


def policy_from_dict(data: dict[str, Any]) -> MissionPolicy:
    return MissionPolicy(
        max_parallel_items=int(data["max_parallel_items"]),
        reviewer_required=bool(data["reviewer_required"]),
        auto_merge=bool(data["auto_merge"]),
        watch_interval_secs=int(data["watch_interval_secs"]),
    )


# --- missions ------------------------------------------------------------------------


def mission_to_dict(m: MissionRun) -> dict[str, Any]:
    return {
        "id": m.id.text,
        "objective_refs": [objective_to_dict(r) for r in m.objective_refs],
        "state": m.state.value,
        "policy": policy_to_dict(m.policy),
        "created_at": json_ts(m.created_at),
        "updated_at": json_ts(m.updated_at),
        "next_wake_at": _ts(m.next_wake_at),
        "blocked_reason": m.blocked_reason,
        "dispatcher_last_tick_at": _ts(m.dispatcher_last_tick_at),
        "dispatcher_last_progress_at": _ts(m.dispatcher_last_progress_at),
        "dispatcher_last_help_request_at": _ts(m.dispatcher_last_help_request_at),
        "dispatcher_last_help_request_reason": m.dispatcher_last_help_request_reason,
        "dispatcher_help_request_attempts": m.dispatcher_help_request_attempts,
    }


def mission_from_dict(d: dict[str, Any]) -> MissionRun:
    return MissionRun(
        id=MissionId.parse(d["id"]),
        objective_refs=[objective_from_dict(r) for r in d["objective_refs"]],
        state=MissionState(d["state"]),
        policy=policy_from_dict(d["policy"]),
        created_at=parse_ts(d["created_at"]),
        updated_at=parse_ts(d["updated_at"]),
        next_wake_at=_opt_ts(d.get("next_wake_at")),
        blocked_reason=d.get("blocked_reason"),
        dispatcher_last_tick_at=_opt_ts(d.get("dispatcher_last_tick_at")),
        dispatcher_last_progress_at=_opt_ts(d.get("dispatcher_last_progress_at")),
        dispatcher_last_help_request_at=_opt_ts(d.get("dispatcher_last_help_request_at")),
        dispatcher_last_help_request_reason=d.get("dispatcher_last_help_request_reason"),
        dispatcher_help_request_attempts=int(d.get("dispatcher_help_request_attempts") or 0),
    )


def mission_to_json(m: MissionRun) -> str:
    return _ENCODER.encode(mission_to_dict(m))


def mission_from_json(text: str | bytes, where: str = "mission") -> MissionRun:
    return _decode(text, where, mission_from_dict)


# --- work items --------------------------------------------------------------------------


def work_item_to_dict(w: WorkItem) -> dict[str, Any]:
    return {
        "id": w.id.text,
        "mission_id": w.mission_id.text,
        "title": w.title,
        "kind": w.kind.value,
        "depends_on": [d.text for d in w.depends_on],
        "owner_role": w.owner_role,
        "status": w.status.value,
        "assigned_to": None if w.assigned_to is None else w.assigned_to.text,
        "artifact_refs": list(w.artifact_refs),
        "reviewer_approved": w.reviewer_approved,
        "source_ref": w.source_ref,
        "created_at": json_ts(w.created_at),
        "updated_at": json_ts(w.updated_at),
    }


def work_item_from_dict(d: dict[str, Any]) -> WorkItem:
    kind = WorkKind.parse(str(d["kind"]))
    if kind is None:
        raise ValueError(f"unknown work kind {d['kind']!r}")
    assignee = d.get("assigned_to")
    return WorkItem(
        id=WorkItemId.parse(d["id"]),
        mission_id=MissionId.parse(d["mission_id"]),
        title=str(d["title"]),
        kind=kind,
        depends_on=[WorkItemId.parse(x) for x in d.get("depends_on") or []],
        owner_role=d.get("owner_role"),
        status=WorkStatus(d["status"]),
        assigned_to=None if assignee is None else AgentId.parse(assignee),
        artifact_refs=[str(a) for a in d.get("artifact_refs") or []],
        reviewer_approved=bool(d.get("reviewer_approved", False)),
        source_ref=d.get("source_ref"),
        created_at=parse_ts(d["created_at"]),
        updated_at=parse_ts(d["updated_at"]),
    )


def work_item_to_json(w: WorkItem) -> str:
    return _ENCODER.encode(work_item_to_dict(w))


def work_item_from_json(text: str | bytes, where: str = "work item") -> WorkItem:
    return _decode(text, where, work_item_from_dict)


# --- watches ----------------------------------------------------------------------------------


def watch_to_dict(w: WatchItem) -> dict[str, Any]:
    return {
        "id": w.id.text,
        "mission_id": w.mission_id.text,
        "work_item_id": w.work_item_id.text,
        "kind": w.kind.value,
        "target_ref": w.target_ref,
        "interval_secs": w.interval_secs,
        "next_due_at": json_ts(w.next_due_at),
        "status": w.status.value,
        "on_trigger": w.on_trigger.value,
        "last_check_at": _ts(w.last_check_at),
        "consecutive_failures": w.consecutive_failures,
    }


def watch_from_dict(d: dict[str, Any]) -> WatchItem:
    return WatchItem(
        id=WatchId.parse(d["id"]),
        mission_id=MissionId.parse(d["mission_id"]),
        work_item_id=WorkItemId.parse(d["work_item_id"]),
        kind=WatchKind(d["kind"]),
        target_ref=str(d["target_ref"]),
        interval_secs=int(d["interval_secs"]),
        next_due_at=parse_ts(d["next_due_at"]),
        status=WatchStatus(d["status"]),
        on_trigger=TriggerAction(d.get("on_trigger") or "create_fix_task"),
        last_check_at=_opt_ts(d.get("last_check_at")),
        consecutive_failures=int(d.get("consecutive_failures") or 0),
    )


def watch_to_json(w: WatchItem) -> str:
    return _ENCODER.encode(watch_to_dict(w))


def watch_from_json(text: str | bytes, where: str = "watch") -> WatchItem:
    return _decode(text, where, watch_from_dict)


# --- control messages -----------------------------------------------------------------------


def control_to_dict(c: ControlMessage) -> dict[str, Any]:
    return {
        "id": c.id,
        "mission_id": c.mission_id.text,
        "sender": c.sender,
        "body": c.body,
        "created_at": json_ts(c.created_at),
        "processed_at": _ts(c.processed_at),
    }


def control_from_dict(d: dict[str, Any]) -> ControlMessage:
    return ControlMessage(
        id=str(d["id"]),
        mission_id=MissionId.parse(d["mission_id"]),
        sender=str(d["sender"]),
        body=str(d["body"]),
        created_at=parse_ts(d["created_at"]),
        processed_at=_opt_ts(d.get("processed_at")),
    )


def control_to_json(c: ControlMessage) -> str:
    return _ENCODER.encode(control_to_dict(c))


def control_from_json(text: str | bytes, where: str = "control message") -> ControlMessage:
    return _decode(text, where, control_from_dict)


# --- a mission with its parts ---------------------------------------------------------------


def status_to_dict(
    mission: MissionRun,
    items: Sequence[WorkItem],
    watches: Sequence[WatchItem],
    events: Sequence[str],
    controls: Sequence[ControlMessage] | None = None,
) -> dict[str, Any]:
    """``tt mission status --json`` (with ``controls``) and ``GET /v1/missions/{id}``."""
    doc: dict[str, Any] = {
        "mission": mission_to_dict(mission),
        "work_item_count": len(items),
        "watch_item_count": len(watches),
        "work_items": [work_item_to_dict(i) for i in items],
        "watch_items": [watch_to_dict(w) for w in watches],
    }
    if controls is not None:
        doc["control_messages"] = [control_to_dict(c) for c in controls]
    doc["events"] = list(events)
    return doc
