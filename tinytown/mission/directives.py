"""Dispatcher decisions (missions.md §7.2, §7.3): operator directives and help escalation. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from tinytown.models import Agent, AgentState, Task
from tinytown.models.mission import (
    MissionRun,
    WatchItem,
    WatchStatus,
    WorkItem,
    WorkItemId,
    WorkStatus,
)

DISPATCH_INTERVAL_S: Final = 30
HELP_REPEAT_BASE_S: Final = 1800
HELP_BACKOFF_CAP: Final = 8
STALL_THRESHOLD_S: Final = max(6 * DISPATCH_INTERVAL_S, 180)
NEVER_PROGRESSED_S: Final = 2 * DISPATCH_INTERVAL_S
HELP_MARKER: Final = "[Mission Help Needed] Mission"
WATCH_FAILURES_FOR_HELP: Final = 5
"""As many failed checks as block the watch's work item (watch.BLOCK_AFTER_FAILURES)."""
REDIRECT_VERBS: Final = frozenset({"redirect", "reassign", "reroute", "rebind"})


@attrs.frozen
class Resume:
    pass


@attrs.frozen
class Pause:
    pass


@attrs.frozen
class Redirect:
    item_ref: str | None
    agent_ref: str
    reason: str | None


@attrs.frozen
class Note:
    pass


Directive = Resume | Pause | Redirect | Note


def parse_directive(body: str) -> Directive:
    """What an operator note asks for; a malformed redirect is a plain note."""
    text = body.strip()
    lower = text.lower()
    if lower.startswith(("resume", "retry")):
        return Resume()
    words = text.split()
    if words and words[0].lower() in REDIRECT_VERBS:
        rest = words[1:]
        at = next((i for i, w in enumerate(rest) if w.lower() == "to"), None)
        if at is not None and at + 1 < len(rest) and at <= 1:
            item_ref = rest[0] if at == 1 else None
            reason = " ".join(rest[at + 2:]) or None
            return Redirect(item_ref, rest[at + 1], reason)
        return Note()
    if lower.startswith(("pause", "hold")):
        return Pause()
    return Note()


def resolve_item(ref: str | None, items: Sequence[WorkItem]) -> WorkItem | None:
    """The work item a redirect names: the only open one, a full id, or a unique 4-char id."""
    open_items = [i for i in items if not i.is_done]
    if ref is None:
        return open_items[0] if len(open_items) == 1 else None
    if len(ref) == 36:
        try:
            wid = WorkItemId.parse(ref)
        except Exception:
            return None
        return next((i for i in items if i.id == wid), None)
    low = ref.lower()
    if len(low) != 4:
        return None
    matches = [i for i in open_items if i.id.short == low]
    return matches[0] if len(matches) == 1 else None


# --- help escalation ---------------------------------------------------------------------


def help_reason(mission: MissionRun, items: Sequence[WorkItem], agents: Sequence[Agent],
                tasks: Sequence[Task], watches: Sequence[WatchItem], now: datetime) -> str | None:
    """Why the conductor should be asked for help now, or None."""
    if mission.state.is_terminal:
        return None
    ready = sum(1 for i in items if i.status is WorkStatus.READY)
    if ready and not any(a.state is AgentState.IDLE for a in agents):
        return (f"Mission {mission.id} has {ready} ready work item(s) but no idle agents "
                "are available")
    failing = [w for w in watches if w.status is not WatchStatus.DONE
               and w.consecutive_failures >= WATCH_FAILURES_FOR_HELP]
    if failing:
        w = failing[0]
        # 0.10 counted these watches as normal waiting and never asked.
        return (f"Mission {mission.id} cannot check {w.target_ref}: {w.consecutive_failures} "
                "GitHub checks failed in a row (is gh installed and logged in?)")
    last = mission.dispatcher_last_progress_at
    stalled = (now - last) if last is not None else timedelta(seconds=NEVER_PROGRESSED_S)
    threshold = timedelta(seconds=STALL_THRESHOLD_S)
    if stalled < threshold:
        return None
    tag = f"mission:{mission.id}"
    for task in tasks:
        if not task.is_terminal and tag in task.tags and now - task.updated_at >= threshold:
            at = task.updated_at
            when = f"{at.strftime('%Y-%m-%d %H:%M:%S')}.{at.microsecond // 1000:03d} UTC"
            return f"Mission {mission.id} appears stuck; task {task.id} has not changed since " \
                f"{when}"
    if mission.blocked_reason is not None:
        if any(w.status is not WatchStatus.DONE for w in watches):
            return None
        return f"Mission {mission.id} is still blocked: {mission.blocked_reason}"
    return None


def should_send_help(mission: MissionRun, reason: str, now: datetime) -> bool:
    """First time or a new reason: yes; the same reason: after 1800 s × min(2^attempts, 8)."""
    last = mission.dispatcher_last_help_request_at
    if last is None or reason != mission.dispatcher_last_help_request_reason:
        return True
    factor = min(2 ** mission.dispatcher_help_request_attempts, HELP_BACKOFF_CAP)
    return now - last >= timedelta(seconds=HELP_REPEAT_BASE_S * factor)


def help_text(mission: MissionRun, reason: str) -> str:
    mid = mission.id
    return (
        f"{HELP_MARKER} {mid}\n\n{reason}\n\nReply with `tt mission note {mid} \"resume ...\"`, "
        f"`tt mission note {mid} \"pause ...\"`, or another operator note."
    )
