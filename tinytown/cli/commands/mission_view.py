"""Text and JSON views of missions for ``tt mission`` (missions.md §10 layouts). Pure."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from tinytown.cli.icons import MISSION_STATES, WATCH_STATUSES, WORK_STATUSES

if TYPE_CHECKING:
    from tinytown.mission.dispatcher import DispatchResult
    from tinytown.models.mission import MissionRun, WatchItem, WorkItem
    from tinytown.services.missions import MissionStatus, Started

RECENT_EVENTS = 5
FULL_LIST_MAX = 5
PENDING_NOTES_SHOWN = 3
NOTE_CHARS = 100


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def age(created: datetime, now: datetime) -> str:
    seconds = max(int((now - created).total_seconds()), 0)
    if seconds > 24 * 3600:
        return f"{seconds // 86400}d ago"
    if seconds >= 3600:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 60}m ago"


def objectives_text(mission: MissionRun) -> str:
    refs = [str(r) for r in mission.objective_refs]
    shown = ", ".join(refs[:2])
    return shown + (f" +{len(refs) - 2} more" if len(refs) > 2 else "")


def summary_lines(mission: MissionRun, now: datetime) -> list[str]:
    lines = [f"   {MISSION_STATES[mission.state]} {mission.id.short} ({mission.state.label}) - "
             f"{objectives_text(mission)} - {age(mission.created_at, now)}"]
    if mission.blocked_reason:
        lines.append(f"      └─ Blocked: {mission.blocked_reason}")
    return lines


def started_lines(started: Started) -> list[str]:
    m = started.mission
    lines = ["🚀 Mission started!", f"   ID: {m.id}", f"   Objectives: {len(m.objective_refs)}",
             f"   Work items: {len(started.items)}"]
    lines += [f"      - {ref}" for ref in m.objective_refs]
    lines += [
        f"   Max parallel: {m.policy.max_parallel_items}",
        f"   Reviewer required: {str(m.policy.reviewer_required).lower()}",
        f"   Scheduler bootstrap: {started.bootstrap.total_promoted} promoted, "
        f"{started.bootstrap.total_assigned} assigned",
        "",
        f"   Check status with: tt mission status --run {m.id}",
    ]
    return lines


def _work_lines(items: list[WorkItem], full: bool) -> list[str]:
    from tinytown.models.mission import WorkStatus

    lines = [f"📦 Work Items: {len(items)}"]
    if full or len(items) <= FULL_LIST_MAX:
        for item in items:
            lines.append(f"   {WORK_STATUSES[item.status]} {item.title} ({item.kind.label}) - "
                         f"{item.status.label}")
            if item.assigned_to is not None:
                lines.append(f"      └─ Assigned to: {item.assigned_to}")
            if item.reviewer_approved:
                lines.append("      └─ Reviewer approved")
        return lines

    def count(*statuses: WorkStatus) -> int:
        return sum(1 for i in items if i.status in statuses)

    lines += [
        f"   ⏳ Pending: {count(WorkStatus.PENDING)}",
        f"   🔵 Ready: {count(WorkStatus.READY)}",
        f"   🔄 Running: {count(WorkStatus.ASSIGNED, WorkStatus.RUNNING)}",
        f"   ✅ Done: {count(WorkStatus.DONE)}",
        f"   🚧 Blocked: {count(WorkStatus.BLOCKED)}",
        "   (use --work for full list)",
    ]
    return lines


def _watch_lines(watches: list[WatchItem], full: bool) -> list[str]:
    from tinytown.models.mission import WatchStatus

    lines = [f"👁️  Watch Items: {len(watches)}"]
    if full:
        for w in watches:
            icon = WATCH_STATUSES[w.status]
            lines.append(f"   {icon} {w.kind.label} - {w.target_ref} ({w.status.label})")
            lines.append(f"      └─ Next check: {w.next_due_at.strftime('%H:%M:%S')}")
        return lines
    done = sum(1 for w in watches if w.status is WatchStatus.DONE)
    lines += [f"   🟢 Active: {len(watches) - done}", f"   ✅ Done: {done}",
              "   (use --watch for full list)"]
    return lines


def status_lines(st: MissionStatus, *, work: bool, watch: bool, dispatcher: bool) -> list[str]:
    m = st.mission
    lines = ["🎯 Mission Status", f"   ID: {m.id.short} ({m.id})",
             f"   State: {MISSION_STATES[m.state]} {m.state.label}",
             f"   Created: {ts(m.created_at)}",
             f"   Updated: {ts(m.updated_at)}", "", f"📋 Objectives: {len(m.objective_refs)}"]
    lines += [f"   - {ref}" for ref in m.objective_refs]
    p = m.policy
    lines += ["", "⚙️  Policy:", f"   Max parallel: {p.max_parallel_items}",
              f"   Reviewer required: {str(p.reviewer_required).lower()}",
              f"   Auto-merge: {str(p.auto_merge).lower()}",
              f"   Watch interval: {p.watch_interval_secs}s"]
    if m.blocked_reason:
        lines += ["", f"🚧 Blocked Reason: {m.blocked_reason}"]
    if m.next_wake_at:
        lines += ["", f"⏰ Next Wake: {ts(m.next_wake_at)}"]
    if dispatcher:
        lines += ["", *_dispatcher_lines(st)]
    lines += ["", *_work_lines(st.items, work), "", *_watch_lines(st.watches, watch)]
    if st.events:
        lines += ["", "📜 Recent Events:", *[f"   {e}" for e in st.events[:RECENT_EVENTS]]]
    return lines


def _dispatcher_lines(st: MissionStatus) -> list[str]:
    m = st.mission
    tick = ts(m.dispatcher_last_tick_at) if m.dispatcher_last_tick_at else "never"
    progress = (ts(m.dispatcher_last_progress_at) if m.dispatcher_last_progress_at
                else "none recorded")
    lines = ["🛰️  Dispatcher:", f"   Last tick: {tick}", f"   Last progress: {progress}"]
    if m.dispatcher_last_help_request_at:
        lines.append(f"   Last help request: {ts(m.dispatcher_last_help_request_at)}")
    if m.dispatcher_last_help_request_reason:
        lines.append(f"   Help reason: {m.dispatcher_last_help_request_reason}")
    pending = [c for c in st.controls if c.is_pending]
    lines += [f"   Control messages: {len(st.controls)} total",
              f"   Pending control messages: {len(pending)}"]
    for c in pending[:PENDING_NOTES_SHOWN]:
        first = (c.body.splitlines() or [""])[0][:NOTE_CHARS]
        lines.append(f"      - {c.sender}: {first}")
    return lines


# --- JSON ----------------------------------------------------------------------------------


def status_doc(st: MissionStatus) -> dict[str, Any]:
    from tinytown.codec.mission_codec import status_to_dict

    return status_to_dict(st.mission, st.items, st.watches, st.events, st.controls)


def dispatch_doc(result: DispatchResult) -> dict[str, Any]:
    return {
        "claimed": [str(m) for m in result.claimed],
        "watches": {"processed": result.watches.processed,
                    "triggered": result.watches.triggered,
                    "completed": result.watches.completed, "failed": result.watches.failed},
        "scheduler": {"total_promoted": result.scheduler.total_promoted,
                      "total_assigned": result.scheduler.total_assigned,
                      "missions_completed": result.scheduler.missions_completed},
        "help_requested": [str(m) for m in result.help_sent],
        "errors": {str(m): e for m, e in result.errors},
    }
