"""JSON shapes of the mission tools and resources (mcp.md §3, missions.md §2), pure.

Records use the mission codec's dicts, so MCP shows exactly what is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinytown.codec.mission_codec import (
    control_to_dict,
    mission_to_dict,
    watch_to_dict,
    work_item_to_dict,
)
from tinytown.codec.timestamps import json_ts
from tinytown.mission.dispatcher import DispatchResult
from tinytown.mission.tick import TickSummary
from tinytown.models.mission import ControlMessage, MissionRun, WatchItem, WorkItem


def summary(tick: TickSummary, *, detailed: bool = False) -> dict[str, Any]:
    """SchedulerSummary (with the per-mission results when ``detailed``)."""
    out: dict[str, Any] = {
        "total_promoted": tick.total_promoted,
        "total_assigned": tick.total_assigned,
        "missions_completed": tick.missions_completed,
    }
    if detailed:
        out["missions"] = [
            {
                "mission_id": r.mission_id.text,
                "promoted": r.promoted,
                "assigned": [
                    {"work_item_id": wid.text, "agent_id": str(aid)} for wid, aid, _ in r.assigned
                ],
                "completed": [wid.text for wid in r.completed],
                "state_changed": r.state_changed,
                "new_state": r.new_state.value if r.new_state else None,
                "error": r.error,
            }
            for r in tick.results
        ]
    return out


def dispatch(result: DispatchResult) -> dict[str, Any]:
    watches = result.watches
    return {
        "claimed_missions": [m.text for m in result.claimed],
        "watch_result": {
            "watches_processed": watches.processed,
            "watches_triggered": watches.triggered,
            "watches_completed": watches.completed,
            "watches_failed": watches.failed,
            "results": [
                {
                    "watch_id": r.watch.id.text,
                    "mission_id": r.watch.mission_id.text,
                    "triggered": r.triggered,
                    "new_status": r.new_status.value if r.new_status else None,
                    "error": r.error,
                }
                for r in watches.results
            ],
        },
        "scheduler_result": summary(result.scheduler, detailed=True),
    }


def _controls(controls: Sequence[ControlMessage]) -> list[dict[str, Any]]:
    return [control_to_dict(c) for c in sorted(controls, key=lambda c: c.created_at)]


def mission_status(
    mission: MissionRun,
    items: Sequence[WorkItem],
    watches: Sequence[WatchItem],
    controls: Sequence[ControlMessage],
    events: Sequence[str],
    *,
    work: bool,
    watch: bool,
    with_events: bool,
    dispatcher: bool,
) -> dict[str, Any]:
    """MissionStatus: every key present, excluded sections null."""
    return {
        "mission": mission_to_dict(mission),
        "work_item_count": len(items),
        "watch_item_count": len(watches),
        "work_items": [work_item_to_dict(i) for i in items] if work else None,
        "watch_items": [watch_to_dict(w) for w in watches] if watch else None,
        "events": list(events) if with_events else None,
        "dispatcher": {
            "last_tick_at": _ts(mission.dispatcher_last_tick_at),
            "last_progress_at": _ts(mission.dispatcher_last_progress_at),
            "last_help_request_at": _ts(mission.dispatcher_last_help_request_at),
            "last_help_request_reason": mission.dispatcher_last_help_request_reason,
            "control_messages": _controls(controls),
            "pending_control_messages": _controls([c for c in controls if c.processed_at is None]),
        }
        if dispatcher
        else None,
    }


def _ts(value: Any) -> str | None:
    return None if value is None else json_ts(value)


def mission_brief(m: MissionRun) -> dict[str, Any]:
    """A mission of ``tinytown://missions``."""
    full = mission_to_dict(m)
    keys = ("id", "state", "objective_refs", "created_at", "updated_at", "blocked_reason",
            "next_wake_at")  # fmt: skip
    return {k: full[k] for k in keys}


def mission_details(
    mission: MissionRun,
    items: Sequence[WorkItem],
    watches: Sequence[WatchItem],
    controls: Sequence[ControlMessage],
    events: Sequence[str],
) -> dict[str, Any]:
    """``tinytown://missions/{mission_id}``."""
    return {
        "mission": mission_to_dict(mission),
        "work_items": [work_item_to_dict(i) for i in items],
        "watches": [watch_to_dict(w) for w in watches],
        "control_messages": _controls(controls),
        "events": list(events),
    }
