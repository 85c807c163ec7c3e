"""Submissions and reviewer gates (missions.md §6.3–§6.5).

A completed mission task feeds its work item: a work/fix task records a
submission (PR refs become watches, the reviewer gate asks for a review), a
review task approves or requests changes. :func:`sync_completed_task` is the
hook the task-complete service calls, whatever the surface (CLI, REST, MCP).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

import attrs

from tinytown.mission.binding import (
    Binding,
    TaskKind,
    binding_of,
    create_task,
    live_bound,
    mission_tags,
)
from tinytown.mission.refs import extract_pr_refs
from tinytown.mission.scheduler import gated
from tinytown.mission.scoring import best_agent, is_reviewer
from tinytown.mission.store import MissionStore
from tinytown.models import Agent, AgentState, Task
from tinytown.models.mission import (
    MissionId,
    MissionPolicy,
    MissionRun,
    TriggerAction,
    WatchItem,
    WatchKind,
    WatchStatus,
    WorkItem,
    WorkItemId,
    WorkStatus,
)

if TYPE_CHECKING:
    from tinytown.town import Town

log = logging.getLogger("tinytown.mission")

PR_WATCHES: Final = (
    (WatchKind.PR_CHECKS, TriggerAction.CREATE_FIX_TASK),
    (WatchKind.BUGBOT_COMMENTS, TriggerAction.CREATE_FIX_TASK),
    (WatchKind.REVIEW_COMMENTS, TriggerAction.CREATE_FIX_TASK),
    (WatchKind.MERGEABILITY, TriggerAction.ADVANCE_PIPELINE),
)
_REJECT_PREFIXES: Final = ("rejected:", "changes requested:")


class Outcome(enum.Enum):
    COMPLETED = "completed"
    WAITING_FOR_REVIEW = "waiting_for_review"
    WAITING_FOR_EXTERNAL = "waiting_for_external"
    REVIEWER_APPROVAL_REQUIRED = "reviewer_approval_required"
    MISSION_NOT_FOUND = "mission_not_found"
    ITEM_NOT_FOUND = "work_item_not_found"


@attrs.frozen
class SyncResult:
    """What completing a mission task did to its work item."""

    mission_id: MissionId
    work_item_id: WorkItemId
    outcome: Outcome
    promoted: int = 0
    assigned: int = 0


class Gates:
    """Submission and review operations on one town's missions."""

    def __init__(self, town: Town, now: datetime) -> None:
        self.town = town
        self.store = MissionStore(town.channel)
        self.now = now

    async def _load(self, mid: MissionId, wid: WorkItemId
                    ) -> tuple[MissionRun | None, WorkItem | None]:
        mission = await self.store.get_mission(mid)
        if mission is None:
            return None, None
        return mission, await self.store.get_work_item(mid, wid)

    async def _log(self, mid: MissionId, text: str) -> None:
        await self.store.log(mid, text, self.now)

    async def record_submission(self, mid: MissionId, wid: WorkItemId,
                                artifacts: list[str]) -> Outcome:
        mission, item = await self._load(mid, wid)
        if mission is None:
            return Outcome.MISSION_NOT_FOUND
        if item is None:
            return Outcome.ITEM_NOT_FOUND
        prs = extract_pr_refs(artifacts)
        item = item.with_artifacts(artifacts, self.now).unapproved(self.now)
        is_gated = gated(item, mission.policy)
        if not prs and not is_gated:
            await self.store.save_work_items([item.done(self.now)])
            await self._log(mid, f"Work item '{item.title}' completed")
            return Outcome.COMPLETED
        item = item.with_status(WorkStatus.BLOCKED, self.now)
        if prs:
            # The watches before the blocked item: a dispatcher tick in between would find a
            # blocked item with artifacts and no watches, and call it done without its PR checks.
            await self.ensure_pr_watches(mission, item, prs)
            if not is_gated:  # logged before a tick can complete the item and promote others
                await self._log(mid, f"Work item '{item.title}' is waiting on PR watches")
        await self.store.save_work_items([item])
        if is_gated:
            await self.ensure_review_task(mission, item)
            suffix = " and PR watches" if prs else ""
            await self._log(
                mid, f"Work item '{item.title}' is waiting on reviewer approval{suffix}"
            )
            return Outcome.WAITING_FOR_REVIEW
        return Outcome.WAITING_FOR_EXTERNAL

    async def ensure_pr_watches(self, mission: MissionRun, item: WorkItem,
                                prs: list[str]) -> None:
        existing = await self.store.list_watches(mission.id)
        out: list[WatchItem] = []
        for target in prs:
            for kind, action in PR_WATCHES:
                same = next((w for w in existing if w.work_item_id == item.id
                             and w.kind is kind and w.target_ref == target), None)
                if same is not None:
                    out.append(same.reactivated(self.now, action))
                else:
                    out.append(WatchItem.new(mission.id, item.id, kind, target,
                                             mission.policy.watch_interval_secs, self.now, action))
        await self.store.save_watches(out)

    async def ensure_review_task(self, mission: MissionRun, item: WorkItem) -> Task | None:
        tasks = await self.town.channel.list_tasks()
        if live_bound(tasks, mission.id, item.id, TaskKind.REVIEW):
            return None
        reviewer = pick_reviewer(await self.town.channel.list_agents())
        if reviewer is None:
            # Nothing is lost: the item stays blocked, each scheduler tick tries again
            # (0.10 never did) and the dispatcher asks the conductor for help.
            log.warning("No reviewer for mission %s work item '%s'", mission.id, item.title)
            return None
        latest = next((a for a in reversed(item.artifact_refs)
                       if "github.com" in a or "#" in a), "no PR ref provided")
        description = (
            f"[Mission Review] {item.title}\n\nMission: {mission.id}\nWork item: {item.id}\n"
            f"Latest PR/ref: {latest}\n\nReview the changes. Approve with `tt task complete "
            "<task-id> --result \"approved: ...\"` or request changes with `tt task complete "
            "<task-id> --result \"rejected: ...\"`."
        )
        task = await create_task(self.town, reviewer.id, description,
                                 mission_tags(TaskKind.REVIEW, mission.id, item.id), self.now)
        await self._log(mission.id, f"Assigned review task {task.id} for '{item.title}' to "
                                    f"reviewer '{reviewer.name}'")
        return task

    async def approve(self, mid: MissionId, wid: WorkItemId, artifacts: list[str]) -> Outcome:
        mission, item = await self._load(mid, wid)
        if mission is None:
            return Outcome.MISSION_NOT_FOUND
        if item is None:
            return Outcome.ITEM_NOT_FOUND
        item = item.with_artifacts(artifacts, self.now).approved(self.now)
        await self.store.save_work_items([item.with_status(WorkStatus.BLOCKED, self.now)])
        await self._log(mid, f"Reviewer approved '{item.title}'")
        return await self.finalize(mid, wid)

    async def finalize(self, mid: MissionId, wid: WorkItemId) -> Outcome:
        mission, item = await self._load(mid, wid)
        if mission is None:
            return Outcome.MISSION_NOT_FOUND
        if item is None:
            return Outcome.ITEM_NOT_FOUND
        if gated(item, mission.policy) and not item.reviewer_approved:
            return Outcome.WAITING_FOR_REVIEW
        watches = await self.store.list_watches(mid)
        if any(w.work_item_id == wid and w.status is not WatchStatus.DONE for w in watches):
            await self.store.save_work_items([item.with_status(WorkStatus.BLOCKED, self.now)])
            return Outcome.WAITING_FOR_EXTERNAL
        await self.store.save_work_items([item.with_status(WorkStatus.DONE, self.now)])
        await self._log(mid, f"Work item '{item.title}' finalized after review/watch gates")
        return Outcome.COMPLETED

    async def request_changes(self, mid: MissionId, wid: WorkItemId, reason: str) -> Outcome:
        mission, item = await self._load(mid, wid)
        if mission is None:
            return Outcome.MISSION_NOT_FOUND
        if item is None:
            return Outcome.ITEM_NOT_FOUND
        item = attrs.evolve(item, status=WorkStatus.BLOCKED, reviewer_approved=False,
                            updated_at=self.now)
        await self.store.save_work_items([item])
        await self.ensure_fix_task(mission, item, reason)
        await self._log(mid, f"Reviewer requested changes for '{item.title}': {reason}")
        return Outcome.WAITING_FOR_EXTERNAL

    async def ensure_fix_task(self, mission: MissionRun, item: WorkItem,
                              reason: str) -> Task | None:
        tasks = await self.town.channel.list_tasks()
        if live_bound(tasks, mission.id, item.id, TaskKind.FIX):
            return None
        agents = await self.town.channel.list_agents()
        if item.assigned_to is not None:
            owner = next((a for a in agents if a.id == item.assigned_to), None)
        else:
            owner = best_agent(item, [a for a in agents if a.state is AgentState.IDLE], {})
        if owner is None:
            log.warning("No owner for a fix task of '%s' (mission %s)", item.title, mission.id)
            return None
        description = (
            f"[Mission Fix] {item.title}\n\nMission: {mission.id}\nWork item: {item.id}\n"
            f"Reason: {reason}\n\nUpdate the changes, refresh the PR if needed, and complete "
            "this task with the updated PR URL or ref."
        )
        task = await create_task(self.town, owner.id, description,
                                 mission_tags(TaskKind.FIX, mission.id, item.id), self.now)
        await self._log(mission.id, f"Assigned fix task {task.id} for '{item.title}' to "
                                    f"'{owner.name}'")
        return task


def pick_reviewer(agents: Sequence[Agent]) -> Agent | None:
    """An idle reviewer-lane agent, else a busy one (its inbox queues the review)."""
    live = [a for a in agents if is_reviewer(a) and not a.state.is_terminal]
    return next((a for a in live if a.state is AgentState.IDLE), live[0] if live else None)


def needs_review_task(item: WorkItem, policy: MissionPolicy, tasks: Sequence[Task]) -> bool:
    """A gated item whose latest submission has no review task (none was free to take it).

    Submissions are the completed work/fix tasks of the item; a review task created
    after the latest one (live or done, approving or rejecting) answers it.
    """
    if (item.status is not WorkStatus.BLOCKED or item.reviewer_approved
            or not gated(item, policy)):
        return False
    submitted: list[datetime] = []
    reviewed: list[datetime] = []
    for task in tasks:
        b = binding_of(task)
        if b is None or b.mission_id != item.mission_id or b.work_item_id != item.id:
            continue
        if b.kind is TaskKind.REVIEW:
            reviewed.append(task.created_at)
        elif not task.is_terminal:
            return False  # a live work or fix task: the next submission comes first
        elif task.completed_at is not None and task.state.value == "completed":
            submitted.append(task.completed_at)
    if not submitted:
        return False
    latest = max(submitted)
    return not any(r >= latest for r in reviewed)


def is_rejection(result: str) -> bool:
    return result.strip().lower().startswith(_REJECT_PREFIXES)


async def sync_completed_task(town: Town, task: Task, now: datetime) -> SyncResult | None:
    """Feed a just-completed task into its mission; None when the task is not a mission task."""
    binding: Binding | None = binding_of(task)
    if binding is None:
        return None
    gates = Gates(town, now)
    result = task.result or ""
    artifacts = [f"task:{task.id}"] + ([result] if result.strip() else [])
    mid, wid = binding.mission_id, binding.work_item_id
    if binding.kind is TaskKind.REVIEW:
        if is_rejection(result):
            outcome = await gates.request_changes(mid, wid, result.strip())
        else:
            outcome = await gates.approve(mid, wid, artifacts)
    else:
        outcome = await gates.record_submission(mid, wid, artifacts)
    if outcome is not Outcome.COMPLETED:
        return SyncResult(mid, wid, outcome)
    from tinytown.mission.tick import tick_active

    summary = await tick_active(town, now)
    return SyncResult(mid, wid, outcome, summary.total_promoted, summary.total_assigned)
